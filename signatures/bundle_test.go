package signatures

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	b1, etag1, err := Bundle(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	b2, etag2, err := Bundle(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatal(err)
	}
	if etag1 != etag2 || !bytes.Equal(b1, b2) {
		t.Fatal("bundling the same catalog twice gave different bytes")
	}
	c, err := LoadBundle(b1)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Apps) != 4 || c.MatchDomain("acme.chatterbox.example").Tenant != "acme" {
		t.Fatalf("bundle did not round-trip: %d apps", len(c.Apps))
	}
}

func TestETagMatchesBundle(t *testing.T) {
	fsys := os.DirFS("testdata/catalog")
	_, bundleTag, err := Bundle(fsys)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := ETag(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if tag != bundleTag {
		t.Fatalf("ETag = %s, Bundle's ETag = %s: an agent would download the catalog it has", tag, bundleTag)
	}
	other, err := ETag(os.DirFS("testdata/lint/conflicts"))
	if err != nil {
		t.Fatal(err)
	}
	if other == tag {
		t.Fatal("two different catalogs have the same ETag")
	}
}

func TestBundleRefusesBrokenCatalog(t *testing.T) {
	if _, _, err := Bundle(os.DirFS("testdata/lint/conflicts")); err == nil {
		t.Fatal("a catalog that does not lint was bundled")
	}
}

func TestLoadBundleBadInput(t *testing.T) {
	// A tar with a path outside the catalog and one escaping it.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"../../etc/passwd", "apps/../../x.yaml", "other.txt"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	zw.Close()
	for name, data := range map[string][]byte{
		"empty":        nil,
		"not gzip":     []byte("hello"),
		"foreign tar":  buf.Bytes(),
		"truncated gz": buf.Bytes()[:buf.Len()/2],
	} {
		if _, err := LoadBundle(data); err == nil {
			t.Errorf("%s: LoadBundle succeeded", name)
		}
	}
}

func FuzzLoadBundle(f *testing.F) {
	b, _, err := Bundle(os.DirFS("testdata/catalog"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		LoadBundle(data) // must not panic
	})
}
