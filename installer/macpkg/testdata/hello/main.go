// Command hello is a small darwin program the macpkg tests build for
// amd64 and arm64 to have real Mach-O binaries to package.
package main

import "fmt"

func main() { fmt.Println("hello") }
