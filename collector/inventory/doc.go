// Package inventory turns the collector's evidence into the inventory IT
// reads: one row per app with who uses it, how it was seen, what it costs,
// IT's decision about it, whether it is inside an identity provider, the
// flags that call for attention (each with a one-line reason), and what it
// would take to bring it under the IdP, with the yearly cost of managing
// it by hand.
//
// The inventory reads the store only through the small interfaces declared
// here (UsageReader, StateReader, GrantReader), which are subsets of the
// store interfaces in package collector; app facts come from the signature
// catalog. It holds no state of its own between calls and never writes.
package inventory
