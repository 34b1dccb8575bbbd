package service

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// launchdThrottleSeconds is the least time launchd leaves between two
// starts of the agent, so a failing agent retries twice a minute at most.
const launchdThrottleSeconds = 30

// LaunchdPlist renders the launchd daemon definition for d: started at
// boot (RunAtLoad), restarted whenever it exits (KeepAlive) but not more
// often than ThrottleInterval, run as a background process (launchd
// throttles its CPU and I/O), with its output in LaunchdLogPath.
func LaunchdPlist(d Definition) (string, error) {
	if err := d.Validate("darwin"); err != nil {
		return "", fmt.Errorf("launchd plist: %w", err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
`)
	key := func(k string) { fmt.Fprintf(&b, "\t<key>%s</key>\n", plistText(k)) }
	str := func(indent, s string) { fmt.Fprintf(&b, "%s<string>%s</string>\n", indent, plistText(s)) }

	key("EnvironmentVariables")
	b.WriteString("\t<dict>\n")
	fmt.Fprintf(&b, "\t\t<key>%s</key>\n", plistText(StateDirEnv))
	str("\t\t", d.StateDir)
	b.WriteString("\t</dict>\n")
	key("KeepAlive")
	b.WriteString("\t<true/>\n")
	key("Label")
	str("\t", Name)
	key("ProcessType")
	str("\t", "Background")
	key("ProgramArguments")
	b.WriteString("\t<array>\n")
	str("\t\t", d.Executable)
	for _, a := range d.Arguments() {
		str("\t\t", a)
	}
	b.WriteString("\t</array>\n")
	key("RunAtLoad")
	b.WriteString("\t<true/>\n")
	key("StandardErrorPath")
	str("\t", LaunchdLogPath)
	key("StandardOutPath")
	str("\t", LaunchdLogPath)
	key("ThrottleInterval")
	fmt.Fprintf(&b, "\t<integer>%d</integer>\n", launchdThrottleSeconds)
	b.WriteString("</dict>\n</plist>\n")
	return b.String(), nil
}

// plistText escapes s for XML character data.
func plistText(s string) string {
	var b strings.Builder
	// xml.EscapeText only fails when the writer does.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
