package privdir

import "errors"

// ErrUntrusted is matched (errors.Is) by CheckFile's error when the file,
// or on Unix a directory above it, could be changed by an account the
// privileged agent must not take orders from.
var ErrUntrusted = errors.New("not trusted: another account could change it")

// untrustedError is CheckFile's refusal: a message for people, saying what
// is wrong and how to fix it, that still matches ErrUntrusted.
type untrustedError struct{ msg string }

func (e *untrustedError) Error() string        { return e.msg }
func (e *untrustedError) Is(target error) bool { return target == ErrUntrusted }
