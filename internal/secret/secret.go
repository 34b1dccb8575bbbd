// Package secret compares credentials without leaking them through timing.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Equal reports whether presented equals want, in time that depends on
// neither value nor length: both are hashed before the constant-time
// compare. An empty want equals nothing, so a revoked entry with no value
// can never match.
func Equal(want, presented string) bool {
	if want == "" || presented == "" {
		return false
	}
	a := sha256.Sum256([]byte(want))
	b := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
