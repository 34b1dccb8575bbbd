package mdm

import (
	"crypto/sha1"
	"fmt"
)

// uuidNamespace is the namespace of every name-based UUID in our profiles.
// It is fixed for good: changing it would give every profile MDM servers
// already hold new identities, so a re-upload would install a second
// profile beside the first instead of replacing it. A function, not a
// variable, so nothing can change it at run time.
func uuidNamespace() [16]byte {
	return [16]byte{
		0x5d, 0x2b, 0x8e, 0x41, 0x9c, 0x0f, 0x4a, 0x63,
		0xb1, 0x7e, 0x2c, 0x94, 0xd8, 0x55, 0x0a, 0x3f,
	}
}

// nameUUID is the name-based UUID of name in uuidNamespace.
func nameUUID(name string) string { return uuidV5(uuidNamespace(), name) }

// uuidV5 is the RFC 9562 version 5 (SHA-1, name-based) UUID of name in
// namespace ns, in the upper-case form Apple's tools write.
func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
