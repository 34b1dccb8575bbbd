package dnsconfig

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// ErrManaged means the DNS configuration belongs to a manager (such as
// systemd-resolved) that would fight or ignore our changes.
var ErrManaged = errors.New("DNS configuration is managed by another service")

// ResolvConf is the Linux backend: a resolv.conf that is a regular file.
// The applied file lists the local forwarder first, then the previous
// nameservers, with "options timeout:1 attempts:2" so the C library falls
// through quickly when the forwarder is gone. glibc reads at most three
// nameservers, so with the forwarder first only two previous ones remain
// for the fall-through; the forwarder itself uses all of them.
type ResolvConf struct {
	// Path is the file, normally /etc/resolv.conf.
	Path string
}

const resolvConfSystem = "resolv.conf"

// Read returns the file as one entry.
func (r ResolvConf) Read(ctx context.Context) (Settings, error) {
	if err := r.checkRegular(); err != nil {
		return Settings{}, err
	}
	raw, err := os.ReadFile(r.Path)
	if err != nil {
		return Settings{}, fmt.Errorf("read DNS settings: %w", err)
	}
	rc := ParseResolvConf(raw)
	return Settings{System: resolvConfSystem, Entries: []Entry{{
		ID: r.Path, Manual: true, Servers: rc.Nameservers, Raw: string(raw),
	}}}, nil
}

// Apply rewrites the file with local in front of the original servers.
func (r ResolvConf) Apply(ctx context.Context, local netip.Addr, original Settings) error {
	e, ok := original.entry(r.Path)
	if !ok {
		return fmt.Errorf("apply DNS settings: nothing saved for %s", r.Path)
	}
	content, err := RenderResolvConf([]byte(e.Raw), local)
	if err != nil {
		return fmt.Errorf("apply DNS settings to %s: %w", r.Path, err)
	}
	return r.write(content)
}

// Restore writes the saved file back byte for byte.
func (r ResolvConf) Restore(ctx context.Context, s Settings) error {
	for _, e := range s.Entries {
		if e.ID != r.Path {
			return fmt.Errorf("restore DNS settings: entry %q is not %s", e.ID, r.Path)
		}
		if err := r.write([]byte(e.Raw)); err != nil {
			return err
		}
	}
	return nil
}

func (r ResolvConf) checkRegular() error {
	fi, err := os.Lstat(r.Path)
	if err != nil {
		return fmt.Errorf("DNS settings: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(r.Path)
		if strings.Contains(target, "systemd/resolve") {
			return fmt.Errorf("%s links to %s: %w (systemd-resolved); resolver mode cannot take over DNS here, use packet capture on Linux (the default)", r.Path, target, ErrManaged)
		}
		return fmt.Errorf("%s links to %s: %w; resolver mode only changes a regular file, use packet capture on Linux (the default)", r.Path, target, ErrManaged)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", r.Path)
	}
	return nil
}

// write replaces the file atomically (temp file in the same directory,
// fsync, rename), keeping its mode.
func (r ResolvConf) write(content []byte) error {
	if err := r.checkRegular(); err != nil {
		return err
	}
	fi, err := os.Stat(r.Path)
	if err != nil {
		return fmt.Errorf("write DNS settings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.Path), "."+filepath.Base(r.Path)+".shadowmap-*")
	if err != nil {
		return fmt.Errorf("write DNS settings: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), r.Path)
	}
	if err != nil {
		return fmt.Errorf("write DNS settings to %s: %w", r.Path, err)
	}
	return nil
}

// ResolvConfFile is what matters in a resolv.conf for us.
type ResolvConfFile struct {
	Nameservers []string // as written, valid addresses only
	Options     []string // option tokens, in order
}

// ParseResolvConf reads the nameserver and options lines; anything else
// is kept by RenderResolvConf untouched and ignored here.
func ParseResolvConf(raw []byte) ResolvConfFile {
	var rc ResolvConfFile
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, len(raw)+1)
	for sc.Scan() {
		fields := strings.Fields(stripComment(sc.Text()))
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) > 1 {
				if _, err := netip.ParseAddr(fields[1]); err == nil {
					rc.Nameservers = append(rc.Nameservers, fields[1])
				}
			}
		case "options":
			rc.Options = append(rc.Options, fields[1:]...)
		}
	}
	return rc
}

func stripComment(line string) string {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		return line[:i]
	}
	return line
}

// RenderResolvConf returns raw with "nameserver local" before the first
// nameserver, nameserver lines for local itself and unspecified addresses
// dropped, and the options
// merged into one line that sets timeout:1 attempts:2 and drops rotate
// (which would spread queries past the forwarder). It fails when raw has
// no other nameserver: local alone would leave the system without DNS if
// the agent died.
func RenderResolvConf(raw []byte, local netip.Addr) ([]byte, error) {
	rc := ParseResolvConf(raw)
	if len(validServers(rc.Nameservers, local)) == 0 {
		return nil, errors.New("no nameserver to fall back on")
	}
	opts := []string{"timeout:1", "attempts:2"}
	for _, o := range rc.Options {
		if strings.HasPrefix(o, "timeout:") || strings.HasPrefix(o, "attempts:") || o == "rotate" {
			continue
		}
		opts = append(opts, o)
	}
	var out bytes.Buffer
	out.WriteString("# shadowmap-agent resolver mode: the local forwarder first, then the previous servers.\n")
	out.WriteString("# The original file is put back when the agent stops.\n")
	wroteLocal, wroteOptions := false, false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, len(raw)+1)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(stripComment(line))
		if len(fields) > 0 {
			switch fields[0] {
			case "nameserver":
				if !wroteLocal {
					fmt.Fprintf(&out, "nameserver %s\n", local)
					wroteLocal = true
				}
				if len(fields) > 1 {
					// Our own address goes (it is first already), and so does
					// an unspecified one (::, 0.0.0.0), which glibc reads as
					// this host: it would be the forwarder again.
					if a, err := netip.ParseAddr(fields[1]); err == nil && (a.WithZone("") == local || a.IsUnspecified()) {
						continue
					}
				}
			case "options":
				if !wroteOptions {
					fmt.Fprintf(&out, "options %s\n", strings.Join(opts, " "))
					wroteOptions = true
				}
				continue
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if !wroteOptions {
		fmt.Fprintf(&out, "options %s\n", strings.Join(opts, " "))
	}
	return out.Bytes(), nil
}
