//go:build windows

package capture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Live capture on Windows reads the DNS-Client operational event log
// (dnsclient_events.go) through the Windows Event Log API: a pull
// subscription whose signal event wakes the reader, which fetches events
// with EvtNext and renders them as XML with EvtRender. It needs no capture
// driver. It sees query names and CNAME targets, not TLS or QUIC server
// names: those need a packet capture driver (Npcap), which the agent does
// not use.

// Event Log API values (winevt.h).
const (
	evtSubscribeToFutureEvents = 1
	evtRenderEventXML          = 1
	evtNextBatch               = 16
	evtNextTimeoutMillis       = 100
	// eventWaitMillis bounds how long the reader takes to notice that it
	// must stop.
	eventWaitMillis = 200
)

// wevtapi holds the procedures of wevtapi.dll, loaded when first called.
type wevtapi struct {
	subscribe, next, render, close *windows.LazyProc
}

func newWevtapi() wevtapi {
	dll := windows.NewLazySystemDLL("wevtapi.dll")
	return wevtapi{
		subscribe: dll.NewProc("EvtSubscribe"),
		next:      dll.NewProc("EvtNext"),
		render:    dll.NewProc("EvtRender"),
		close:     dll.NewProc("EvtClose"),
	}
}

// Live reports the DNS names this computer looks up, read from the
// DNS-Client event log, until ctx ends, calling emit for each. o.Interfaces
// and o.SNI do not apply. It enables the event channel when it is off
// (that needs administrator rights) and fails when it cannot subscribe at
// the start; a subscription lost later is renewed every reattachInterval.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	o = o.withDefaults()
	if len(o.Interfaces) > 0 || o.SNI != nil {
		o.Logger.Info("capture: on Windows only DNS lookups are seen, from the DNS-Client event log; interfaces and SNI do not apply")
	}
	enableDNSClientChannel(ctx, o)
	api := newWevtapi()
	dec := newDNSClientDecoder()
	sub, err := subscribeDNSClient(api)
	if err != nil {
		return dec.Stats(), err
	}
	o.Logger.Info("capture: started", "interface", "dns-client")
	var statusC <-chan time.Time
	if o.OnStatus != nil {
		t := time.NewTicker(o.StatusInterval)
		defer t.Stop()
		statusC = t.C
	}
	report := func() {
		st := LiveStatus{Stats: dec.Stats(), Interfaces: []string{}}
		if sub != nil {
			st.Interfaces = []string{"dns-client"}
		}
		o.OnStatus(st)
	}
	retry := time.NewTicker(reattachInterval)
	defer retry.Stop()
	for {
		if sub == nil {
			select {
			case <-ctx.Done():
				return dec.Stats(), nil
			case <-retry.C:
				if sub, err = subscribeDNSClient(api); err != nil {
					o.Logger.Warn("capture: re-subscribe", "err", err)
				}
			case <-statusC:
				report()
			}
			continue
		}
		if err := sub.poll(ctx, dec, emit); err != nil {
			o.Logger.Warn("capture: DNS-Client events", "err", err)
			sub.close()
			sub = nil
		}
		select {
		case <-ctx.Done():
			if sub != nil {
				sub.close()
			}
			return dec.Stats(), nil
		case <-statusC:
			report()
		default:
		}
	}
}

// enableDNSClientChannel turns the DNS-Client operational channel on when it
// is off, and logs why when that fails: without it no lookups are seen.
func enableDNSClientChannel(ctx context.Context, o LiveOptions) {
	wevtutil := filepath.Join(os.Getenv("SystemRoot"), "System32", "wevtutil.exe")
	out, err := exec.CommandContext(ctx, wevtutil, "gl", dnsClientChannel).Output()
	if err != nil {
		o.Logger.Warn("capture: cannot read the DNS-Client event channel's state", "err", err)
		return
	}
	enabled, err := channelEnabled(string(out))
	if err != nil {
		o.Logger.Warn("capture: cannot read the DNS-Client event channel's state", "err", err)
		return
	}
	if enabled {
		return
	}
	if out, err := exec.CommandContext(ctx, wevtutil, "sl", dnsClientChannel, "/e:true").CombinedOutput(); err != nil {
		o.Logger.Error("capture: cannot enable the DNS-Client event channel; no DNS lookups will be seen until it is enabled "+
			"(wevtutil sl "+dnsClientChannel+" /e:true, as administrator)", "err", err, "output", string(out))
		return
	}
	o.Logger.Info("capture: enabled the DNS-Client event channel", "channel", dnsClientChannel)
}

// dnsClientSubscription is a pull subscription to DNS-Client query events.
type dnsClientSubscription struct {
	api    wevtapi
	handle uintptr        // EVT_HANDLE of the subscription
	signal windows.Handle // set by the service when events are waiting
	events [evtNextBatch]uintptr
	render []uint16 // EvtRender's buffer, grown as needed
}

func subscribeDNSClient(api wevtapi) (*dnsClientSubscription, error) {
	// Manual reset, initially set: the reader resets it before draining,
	// so events that arrive while it drains set it again.
	signal, err := windows.CreateEvent(nil, 1, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("capture: create event: %w", err)
	}
	channel, err := windows.UTF16PtrFromString(dnsClientChannel)
	if err != nil {
		windows.CloseHandle(signal)
		return nil, err
	}
	query, err := windows.UTF16PtrFromString(dnsClientQuery)
	if err != nil {
		windows.CloseHandle(signal)
		return nil, err
	}
	h, _, err := api.subscribe.Call(0, uintptr(signal),
		uintptr(unsafe.Pointer(channel)), uintptr(unsafe.Pointer(query)),
		0, 0, 0, evtSubscribeToFutureEvents)
	if h == 0 {
		windows.CloseHandle(signal)
		return nil, fmt.Errorf("capture: subscribe to %s: %w", dnsClientChannel, err)
	}
	return &dnsClientSubscription{api: api, handle: h, signal: signal, render: make([]uint16, 4096)}, nil
}

// poll waits up to eventWaitMillis for events and decodes those waiting.
func (s *dnsClientSubscription) poll(ctx context.Context, dec *dnsClientDecoder, emit func(Observation)) error {
	ev, err := windows.WaitForSingleObject(s.signal, eventWaitMillis)
	if err != nil {
		return fmt.Errorf("wait for events: %w", err)
	}
	if ev != windows.WAIT_OBJECT_0 {
		return nil
	}
	if err := windows.ResetEvent(s.signal); err != nil {
		return fmt.Errorf("reset event: %w", err)
	}
	for ctx.Err() == nil {
		var n uint32
		ok, _, err := s.api.next.Call(s.handle, evtNextBatch, uintptr(unsafe.Pointer(&s.events[0])),
			evtNextTimeoutMillis, 0, uintptr(unsafe.Pointer(&n)))
		if ok == 0 {
			if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) || errors.Is(err, windows.ERROR_TIMEOUT) {
				return nil
			}
			return fmt.Errorf("EvtNext: %w", err)
		}
		var renderErr error
		for _, h := range s.events[:n] {
			text, err := s.renderXML(h)
			s.api.close.Call(h)
			if err != nil {
				renderErr = cmp.Or(renderErr, err)
				continue
			}
			dec.decode(text, time.Now(), emit)
		}
		if renderErr != nil {
			return renderErr
		}
	}
	return nil
}

// renderXML renders one event as XML text, in UTF-8.
func (s *dnsClientSubscription) renderXML(h uintptr) ([]byte, error) {
	for {
		var used, props uint32
		ok, _, err := s.api.render.Call(0, h, evtRenderEventXML,
			uintptr(len(s.render)*2), uintptr(unsafe.Pointer(&s.render[0])),
			uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if ok != 0 {
			return []byte(windows.UTF16ToString(s.render[:used/2])), nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || int(used) > 2*maxDNSClientEventLen {
			// An event too large to be a DNS-Client event is handed on
			// empty, to be counted as malformed.
			if errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) {
				return nil, nil
			}
			return nil, fmt.Errorf("EvtRender: %w", err)
		}
		s.render = make([]uint16, used/2+1)
	}
}

func (s *dnsClientSubscription) close() {
	s.api.close.Call(s.handle)
	windows.CloseHandle(s.signal)
}
