//go:build !unix && !windows

package privdir

import "os"

// restrict sets mode 0700 where there are no file owners to check (Plan 9,
// WebAssembly): the agent does not run there, but its packages still build.
func restrict(path string) error {
	return os.Chmod(path, 0o700)
}
