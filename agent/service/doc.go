// Package service runs the shadowmap agent as an operating-system service:
// a systemd unit on Linux, a launchd daemon on macOS and a Windows service,
// all through github.com/kardianos/service.
//
// It owns three things:
//
//   - the service definition (Definition), rendered by this package into a
//     complete systemd unit and launchd plist so that the resource limits,
//     sandboxing and restart policy are ours and are checked by golden files;
//   - the `shadowmap-agent service install|uninstall|start|stop|status`
//     command (Command) and the state query the agent's own status command
//     uses (ServiceState);
//   - running under a service manager (RunManaged): the Windows service
//     control manager's start/stop protocol, or signals everywhere else,
//     with a restart policy that never turns a bad configuration into a
//     crash loop.
package service
