//go:build !linux

package bench

import (
	"context"
	"errors"
)

// Agent needs Linux: it reads the agent's memory from /proc and captures
// on loopback with AF_PACKET.
func Agent(ctx context.Context, o AgentOptions) (AgentResult, error) {
	return AgentResult{}, errors.New("bench agent: runs on Linux only")
}
