package signatures

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// normalizeDomain turns a catalog domain into the form the matcher stores:
// lowercase ASCII, punycode for Unicode labels, no trailing dot. It rejects
// anything that is not a plausible DNS name of at least two labels.
func normalizeDomain(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty domain")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/:@ *") {
		return "", fmt.Errorf("%q is not a bare DNS name (no scheme, path, port or wildcard)", s)
	}
	if !isASCII(s) {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", fmt.Errorf("%q is not a valid internationalized domain: %v", s, err)
		}
		s = a
	}
	s = strings.ToLower(s)
	if err := checkHostname(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkHostname validates an ASCII lowercase name: 2+ labels of letters,
// digits and inner hyphens (underscores allowed for service labels), at
// most 253 bytes.
func checkHostname(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("%q is longer than 253 bytes", s)
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q has one label; a domain needs at least two", s)
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	return nil
}

func checkLabel(l string) error {
	if l == "" {
		return errors.New("empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %q is longer than 63 bytes", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("label %q has %q; only a-z, 0-9, '-' and '_' are allowed", l, c)
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// parentSuffixes returns the proper parent suffixes of a normalized domain
// with at least two labels: a.b.example.com -> b.example.com, example.com.
func parentSuffixes(d string) []string {
	var out []string
	for {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return out
		}
		d = d[i+1:]
		if strings.IndexByte(d, '.') < 0 {
			return out
		}
		out = append(out, d)
	}
}

// normalizeName folds a display or legal name for comparison: lowercase,
// every run of non-alphanumeric characters one space, trimmed.
func normalizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f && r != utf8.RuneError {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// isCompanyForm reports whether w is a legal-form word dropped from the end
// of a legal name, so "Vercel Inc." on a receipt matches "Vercel, Inc." in
// the catalog.
func isCompanyForm(w string) bool {
	switch w {
	case "inc", "incorporated", "llc", "ltd", "limited", "pbc", "corp", "corporation",
		"co", "company", "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv", "ab", "as", "oy",
		"plc", "pty", "pte", "srl", "spa", "kk", "lp", "llp":
		return true
	}
	return false
}

// normalizeLegalName is normalizeName without trailing legal forms.
func normalizeLegalName(s string) string {
	n := normalizeName(s)
	for {
		i := strings.LastIndexByte(n, ' ')
		if i < 0 || !isCompanyForm(n[i+1:]) {
			return n
		}
		n = n[:i]
	}
}
