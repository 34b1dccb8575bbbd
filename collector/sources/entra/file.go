package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// fileBatch is how many evidence rows a file import stores at once.
const fileBatch = 1000

// FileImporter imports sign-in exports saved from the Entra portal: its
// CSV download (columns in any order, any encoding sources.NewCSV reads)
// or a Graph signIns JSON page ({"value": [...]}, or a bare array). Each
// file is read whole and its rows are deduplicated by the sign-in's
// request id, so importing a file again stores nothing new, and a sign-in
// also read from the API is stored once.
type FileImporter struct {
	paths []string
}

// NewFileImporter imports the files at paths.
func NewFileImporter(paths []string) sources.Importer {
	return &FileImporter{paths: paths}
}

// Name returns "entra".
func (f *FileImporter) Name() string { return Name }

// Import reads every file; a bad file is reported and the others still
// imported.
func (f *FileImporter) Import(ctx context.Context, env *sources.Env) error {
	var errs []error
	var total int64 // over every file, as the progress counts events
	for _, p := range f.paths {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		env.Progress.SetStage(p)
		if err := importFile(ctx, env, p, &total); err != nil {
			errs = append(errs, fmt.Errorf("entra file %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func importFile(ctx context.Context, env *sources.Env, path string, total *int64) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, sources.MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(data) > sources.MaxFileBytes {
		return fmt.Errorf("larger than %d bytes", sources.MaxFileBytes)
	}
	var events []signIn
	var bad int
	if looksJSON(data) {
		events, bad, err = decodeSignInFile(data)
	} else {
		events, bad, err = decodeSignInCSV(data)
	}
	if err != nil {
		return err
	}
	*total += int64(len(events) + bad)
	env.Progress.SetTotal(*total)
	env.Progress.AddEvents(int64(bad))
	if bad > 0 {
		env.Log.Warn("entra file rows skipped as unreadable", "file", path, "count", bad)
	}
	var batch []collector.Evidence
	for _, s := range events {
		env.Progress.AddEvents(1)
		e, use, err := signInEvidence(env.Catalog, nil, s)
		if err != nil {
			env.Log.Warn("entra file sign-in skipped", "file", path, "err", err)
			continue
		}
		if use {
			batch = append(batch, e)
		}
		if len(batch) >= fileBatch {
			if _, err := env.AddEvidence(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	_, err = env.AddEvidence(ctx, batch)
	return err
}

// looksJSON reports whether a file is JSON (after a UTF-8 BOM and
// spaces) rather than CSV.
func looksJSON(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// decodeSignInFile reads a saved Graph page or a JSON array of sign-ins;
// bad counts items that are not sign-ins.
func decodeSignInFile(data []byte) (events []signIn, bad int, err error) {
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	var items []json.RawMessage
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(data, &items)
	} else {
		var p page
		err = json.Unmarshal(data, &p)
		items = p.Value
	}
	if err != nil {
		return nil, 0, fmt.Errorf("not a Graph sign-ins JSON export: %w", err)
	}
	for _, raw := range items {
		s, err := decodeSignIn(raw)
		if err != nil {
			bad++
			continue
		}
		events = append(events, s)
	}
	return events, bad, nil
}

// The portal's CSV columns, by the names they go by in its exports.
var (
	colDate     = []string{"Date (UTC)", "createdDateTime", "Date"}
	colID       = []string{"Request ID", "id"}
	colUPN      = []string{"Username", "userPrincipalName", "User principal name"}
	colUserType = []string{"User type", "userType"}
	colApp      = []string{"Application", "appDisplayName"}
	colAppID    = []string{"Application ID", "appId"}
	colStatus   = []string{"Status"}
	colError    = []string{"Sign-in error code", "errorCode"}
	colProtocol = []string{"Authentication Protocol", "authenticationProtocol"}
	colClient   = []string{"Client app", "clientAppUsed"}
)

// decodeSignInCSV reads the portal's sign-in CSV export; bad counts rows
// that cannot be sign-ins (no id, no date, an unreadable error code).
func decodeSignInCSV(data []byte) (events []signIn, bad int, err error) {
	c, err := sources.NewCSV(bytes.NewReader(data))
	if err != nil {
		return nil, 0, err
	}
	if err := c.Require(colDate, colID, colUPN, colApp); err != nil {
		return nil, 0, fmt.Errorf("%w: this is not the Entra sign-in CSV export (Monitoring > Sign-in logs > Download > CSV)", err)
	}
	for {
		row, err := c.Next()
		if errors.Is(err, io.EOF) {
			return events, bad, nil
		}
		if err != nil {
			// The parse error names its line; the file is refused
			// whole rather than half imported.
			return nil, 0, err
		}
		s, ok := csvSignIn(row)
		if !ok {
			bad++
			continue
		}
		events = append(events, s)
	}
}

// csvSignIn reads one export row as a Graph sign-in.
func csvSignIn(row sources.Row) (signIn, bool) {
	s := signIn{
		ID:                     row.Get(colID...),
		CreatedDateTime:        row.Get(colDate...),
		UserPrincipalName:      row.Get(colUPN...),
		UserType:               row.Get(colUserType...),
		AppID:                  row.Get(colAppID...),
		AppDisplayName:         row.Get(colApp...),
		ClientAppUsed:          row.Get(colClient...),
		AuthenticationProtocol: row.Get(colProtocol...),
	}
	if s.ID == "" || s.CreatedDateTime == "" {
		return signIn{}, false
	}
	// The error code says whether it worked; older exports only have
	// Status (Success, Failure, Interrupted).
	if code := row.Get(colError...); code != "" {
		n, err := strconv.ParseInt(code, 10, 64)
		if err != nil {
			return signIn{}, false
		}
		s.Status.ErrorCode = n
	} else if st := row.Get(colStatus...); !strings.EqualFold(st, "success") {
		s.Status.ErrorCode = -1
	}
	return s, true
}
