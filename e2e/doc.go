// Package e2e holds end-to-end tests that run the agent and the collector
// together over loopback. It has no code of its own: the agent may not
// import the collector, so the tests that need both live here.
package e2e
