package msi

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// opensslError matches a line of OpenSSL's error stack:
// "40A0EDD3677F0000:error:80000002:system library:...".
var opensslError = regexp.MustCompile(`^[0-9A-F]+:error:`)

// signMSI writes an Authenticode-signed copy of in to out.
func signMSI(ctx context.Context, dir string, s *Signing, in, out string) error {
	args := []string{"sign", "-certs", s.CertFile, "-key", s.KeyFile, "-n", "shadowmap agent"}
	if s.TimestampURL != "" {
		args = append(args, "-t", s.TimestampURL)
	}
	args = append(args, "-in", in, "-out", out)
	cmd := exec.CommandContext(ctx, "osslsigncode", args...)
	cmd.Dir = dir
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sign with %s: osslsigncode: %w: %s", s.CertFile, err, signFailure(string(output)))
	}
	return nil
}

// signFailure is osslsigncode's own account of the failure (a key that
// cannot be read or does not match, an unreachable timestamp server),
// without OpenSSL's error stack, which repeats it less readably.
func signFailure(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "Failed" || opensslError.MatchString(l) {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}
