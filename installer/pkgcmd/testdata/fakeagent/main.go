// Command fakeagent stands in for shadowmap-agent in the packager's tests:
// a real executable for each OS and architecture (ELF, PE, Mach-O), built
// in a second instead of the agent's half a minute.
package main

import "os"

func main() { os.Stdout.WriteString("fake shadowmap-agent\n") }
