package signatures

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed apps/*.yaml noise.yaml scopes.yaml
var embedded embed.FS

// EmbeddedFS returns the catalog files built into this binary, laid out as
// Load expects.
func EmbeddedFS() fs.FS { return embedded }

// Embedded loads the catalog built into this binary.
func Embedded() (*Catalog, error) {
	c, err := Load(embedded)
	if err != nil {
		return nil, fmt.Errorf("load embedded catalog: %w", err)
	}
	return c, nil
}
