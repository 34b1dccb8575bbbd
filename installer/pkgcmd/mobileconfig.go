package pkgcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shadowmap/shadowmap/installer/mdm"
	"github.com/shadowmap/shadowmap/internal/cli"
)

// maxSecretFile bounds what is read as an enroll secret file.
const maxSecretFile = 4 << 10

// MobileConfigCommand is `shadowmap-packager mobileconfig`. The enroll
// secret only comes from a file: a command line is visible to every user
// of the machine and lands in shell history.
func MobileConfigCommand(stdout io.Writer) cli.Command {
	return cli.Command{
		Usage:   "mobileconfig --collector URL --enroll-secret-file F [--owner-email VAR] [--org NAME] [--out F]",
		Summary: "write the macOS configuration profile with the agent's settings for MDM",
		Run: func(args []string) error {
			fs := flag.NewFlagSet("mobileconfig", flag.ContinueOnError)
			collector := fs.String("collector", "", "the collector's URL (https)")
			secretFile := fs.String("enroll-secret-file", "", "file holding the enroll secret")
			owner := fs.String("owner-email", "", "the device owner's email or the MDM's variable for it ($EMAIL in Jamf Pro and Kandji, {{mail}} in Intune)")
			org := fs.String("org", "", "organization shown as the profile's publisher")
			identifier := fs.String("identifier", "", "the profile's PayloadIdentifier (default "+mdm.DefaultIdentifier+")")
			seed := fs.String("uuid-seed", "", "seed of the payload UUIDs; keep it to replace an installed profile (default the identifier)")
			teamID := fs.String("team-id", "", "Apple Team ID the agent is signed with, to allow its background items by team too")
			allowRemoval := fs.Bool("allow-removal", false, "let users remove the profile")
			out := fs.String("out", "", "write the profile to this file (mode 0600) instead of stdout")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 0 {
				return fmt.Errorf("mobileconfig: unexpected arguments %q", fs.Args())
			}
			if *secretFile == "" {
				return errors.New("mobileconfig: --enroll-secret-file is required")
			}
			secret, err := readSecretFile(*secretFile)
			if err != nil {
				return fmt.Errorf("mobileconfig: %w", err)
			}
			profile, err := mdm.MobileConfig(mdm.ProfileOptions{
				CollectorURL: *collector,
				EnrollSecret: secret,
				OwnerEmail:   *owner,
				Organization: *org,
				Identifier:   *identifier,
				UUIDSeed:     *seed,
				TeamID:       *teamID,
				AllowRemoval: *allowRemoval,
			})
			if err != nil {
				return fmt.Errorf("mobileconfig: %w", err)
			}
			if *out == "" {
				_, err = stdout.Write(profile)
				return err
			}
			// The profile carries the enroll secret.
			if err := os.WriteFile(*out, profile, 0o600); err != nil {
				return fmt.Errorf("mobileconfig: %w", err)
			}
			return nil
		},
	}
}

// readSecretFile reads a secret file, dropping one trailing newline (what
// `echo secret > file` leaves).
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("enroll secret: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("enroll secret %s: %w", path, err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("enroll secret %s: larger than %d bytes", path, maxSecretFile)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("enroll secret %s: the file is empty", path)
	}
	return s, nil
}
