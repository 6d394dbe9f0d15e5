package xds

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/plan"
)

// Resolve finds the address of every deployment's api_base. Envoy's EDS takes
// IP addresses only, so llmvoy resolves names itself and pushes the result;
// Refresh calls it again periodically. A name that does not resolve is
// reported in the error (joined per deployment) and left out of the map; the
// rest still resolve. IPv4 is preferred: it is what most provider endpoints
// and loopback test servers listen on.
func Resolve(ctx context.Context, cfg *config.Config, r *net.Resolver) (map[string]netip.AddrPort, []error) {
	out := make(map[string]netip.AddrPort, len(cfg.Deployments))
	cache := make(map[string]netip.Addr)
	var errs []error
	for _, d := range cfg.Deployments {
		if !plan.Servable(d) {
			continue
		}
		host := d.APIBase.Hostname()
		port, err := portOf(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("deployment %s: %w", d.ID, err))
			continue
		}
		ip, ok := cache[host]
		if !ok {
			ip, err = lookup(ctx, r, host)
			if err != nil {
				errs = append(errs, fmt.Errorf("deployment %s: resolve %s: %w", d.ID, host, err))
				continue
			}
			cache[host] = ip
		}
		out[d.ID] = netip.AddrPortFrom(ip, port)
	}
	return out, errs
}

// Placeholders gives every deployment Resolve would resolve an address
// without asking DNS, so that a config can be translated offline with all
// its endpoints (llmvoy validate). A host that is an IP address keeps it;
// each host name gets an address of its own in 100.64.0.0/10 (shared
// address space, not a provider's), so deployments share an address, and
// so an egress, when they share a host and port, as with real addresses.
func Placeholders(cfg *config.Config) map[string]netip.AddrPort {
	out := make(map[string]netip.AddrPort, len(cfg.Deployments))
	hosts := make(map[string]netip.Addr)
	for _, d := range cfg.Deployments {
		if !plan.Servable(d) {
			continue
		}
		port, err := portOf(d)
		if err != nil {
			// Resolve leaves it out too.
			continue
		}
		host := d.APIBase.Hostname()
		ip, ok := hosts[host]
		if !ok {
			if ip, err = netip.ParseAddr(host); err != nil {
				n := len(hosts)
				ip = netip.AddrFrom4([4]byte{100, 64 | byte(n>>16&0x3f), byte(n >> 8), byte(n)})
			}
			hosts[host] = ip
		}
		out[d.ID] = netip.AddrPortFrom(ip, port)
	}
	return out
}

func lookup(ctx context.Context, r *net.Resolver, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ip := range ips {
		if ip.Is4() || ip.Is4In6() {
			return ip.Unmap(), nil
		}
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("no addresses")
	}
	return ips[0], nil
}

func portOf(d *config.Deployment) (uint16, error) {
	if p := d.APIBase.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("bad port %q in api_base", p)
		}
		return uint16(n), nil
	}
	if d.APIBase.Scheme == "https" {
		return 443, nil
	}
	return 80, nil
}
