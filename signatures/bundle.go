package signatures

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing/fstest"
	"time"
)

// A bundle is the catalog as the collector serves it to agents: the
// catalog files in a gzip-compressed tar, byte-for-byte reproducible, so
// its hash is a stable ETag and agents update without reinstalling.

// maxBundleBytes caps a bundle an agent will unpack: the catalog is a few
// megabytes at most.
const maxBundleBytes = 32 << 20

// catalogFile reports whether a path belongs in a bundle.
func catalogFile(p string) bool {
	switch {
	case p == "noise.yaml", p == "scopes.yaml":
		return true
	case strings.HasPrefix(p, "apps/") && strings.HasSuffix(p, ".yaml") && strings.Count(p, "/") == 1:
		return true
	}
	return false
}

// Bundle packs the catalog files of fsys into a reproducible tar.gz and
// returns it with its ETag (see ETag). It validates the catalog first: a
// bundle that agents cannot load is never served.
func Bundle(fsys fs.FS) (bundle []byte, etag string, err error) {
	if _, err := Load(fsys); err != nil {
		return nil, "", fmt.Errorf("bundle catalog: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	if err := writeCatalogTar(fsys, io.MultiWriter(h, zw)); err != nil {
		return nil, "", fmt.Errorf("bundle catalog: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), quotedSum(h), nil
}

// ETag is the catalog's version as agents and the collector compare it:
// a quoted SHA-256 of the uncompressed, reproducible tar of its files. It
// hashes the content rather than the gzip bytes so that it does not
// depend on the compressor, and it is cheap: an agent computes it for its
// embedded catalog at start, so its first refresh does not download and
// parse a catalog it already has.
func ETag(fsys fs.FS) (string, error) {
	h := sha256.New()
	if err := writeCatalogTar(fsys, h); err != nil {
		return "", fmt.Errorf("catalog etag: %w", err)
	}
	return quotedSum(h), nil
}

func quotedSum(h hash.Hash) string {
	return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// writeCatalogTar writes the catalog files of fsys to w as a tar with
// sorted names and no timestamps, so the same files give the same bytes.
func writeCatalogTar(fsys fs.FS, w io.Writer) error {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && catalogFile(p) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:     name,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  time.Unix(0, 0).UTC(), // reproducible: no timestamps
			Typeflag: tar.TypeReg,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// LoadBundle unpacks and loads a bundle made by Bundle. The bundle comes
// over the network, so it is bounded and only catalog paths are taken.
func LoadBundle(bundle []byte) (*Catalog, error) {
	if len(bundle) > maxBundleBytes {
		return nil, fmt.Errorf("load bundle: %d bytes is over the %d limit", len(bundle), maxBundleBytes)
	}
	zr, err := gzip.NewReader(bytes.NewReader(bundle))
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	tr := tar.NewReader(io.LimitReader(zr, maxBundleBytes))
	files := fstest.MapFS{}
	total := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load bundle: %w", err)
		}
		name := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || !catalogFile(name) {
			continue
		}
		if hdr.Size > maxFileSize {
			return nil, fmt.Errorf("load bundle: %s is %d bytes; the limit is %d", name, hdr.Size, maxFileSize)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxFileSize))
		if err != nil {
			return nil, fmt.Errorf("load bundle: %s: %w", name, err)
		}
		total += len(data)
		if total > maxBundleBytes {
			return nil, errors.New("load bundle: unpacked catalog is too large")
		}
		files[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	c, err := Load(files)
	if err != nil {
		return nil, fmt.Errorf("load bundle: %w", err)
	}
	return c, nil
}
