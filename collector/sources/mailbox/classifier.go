package mailbox

import (
	"io"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources/mailbox/classify"
	"github.com/shadowmap/shadowmap/signatures"
)

// catalogClassifier is the default Classifier: the classify package with
// the run's catalog.
type catalogClassifier struct {
	catalog  *signatures.Catalog
	maxBytes int64
	now      func() time.Time
}

func (c catalogClassifier) Candidate(h classify.Header) (bool, string) {
	return classify.Candidate(c.catalog, h)
}

func (c catalogClassifier) Classify(raw io.Reader) classify.Result {
	return classify.Classify(c.catalog, raw, classify.Options{MaxBytes: c.maxBytes, Now: c.now})
}

func (c catalogClassifier) Evidence(r classify.Result, mailbox string) (collector.Evidence, bool) {
	return r.Evidence(mailbox)
}

// maxReasonLen bounds a skip reason used as a count's key.
const maxReasonLen = 60

// reasonKey turns a classifier's skip reason ("unreadable: bad base64 at
// byte 1234", "message larger than 10485760 bytes") into a short key to
// count by, so source health shows a handful of reasons, not one per
// message.
func reasonKey(reason string) string {
	if strings.Contains(reason, "larger than") {
		return "too_large"
	}
	key, _, _ := strings.Cut(reason, ":")
	key = strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r < 0x20, r == 0x7f:
			return -1
		}
		return r
	}, key))
	if len(key) > maxReasonLen {
		key = strings.ToValidUTF8(key[:maxReasonLen], "")
	}
	if key == "" {
		return "unreadable"
	}
	return key
}
