package xtime

import (
	"strings"
	"sync"
	"time"
)

// The dealer's services are reference data: looked up once per container and dealer, and
// kept ServicesTTL.
const (
	// ServicesTTL is how long a dealer's service list is kept.
	ServicesTTL = time.Hour
	// maxServiceLists bounds the cache; the expired lists are dropped when it is full, then
	// the oldest.
	maxServiceLists = 1000
)

// serviceCache keeps the dealers' service lists, per base URL and dealer code. Safe for
// concurrent use; two concurrent misses of one dealer may both look it up (harmless).
type serviceCache struct {
	now func() time.Time

	mu    sync.Mutex
	lists map[string]serviceList
}

type serviceList struct {
	services []Service
	fetched  time.Time
}

func serviceKey(baseURL, dealerCode string) string {
	return strings.TrimRight(baseURL, "/") + "\x00" + dealerCode
}

func (c *serviceCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *serviceCache) get(key string) ([]Service, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.lists[key]
	if !ok || c.clock().Sub(l.fetched) >= ServicesTTL {
		return nil, false
	}
	return l.services, true
}

func (c *serviceCache) put(key string, services []Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	if c.lists == nil {
		c.lists = map[string]serviceList{}
	}
	if _, ok := c.lists[key]; !ok && len(c.lists) >= maxServiceLists {
		oldest := ""
		for k, l := range c.lists {
			if now.Sub(l.fetched) >= ServicesTTL {
				delete(c.lists, k)
			} else if oldest == "" || l.fetched.Before(c.lists[oldest].fetched) {
				oldest = k
			}
		}
		if len(c.lists) >= maxServiceLists {
			delete(c.lists, oldest)
		}
	}
	c.lists[key] = serviceList{services: services, fetched: now}
}

// ChooseOpcode is the opcode to book for an appointment whose service type is serviceType:
// the dealer's service of that name (any case and spacing), else defaultOpcode when it is
// one of the dealer's services. When there is none, why says why.
func ChooseOpcode(services []Service, serviceType, defaultOpcode string) (opcode, why string) {
	want := normalizeName(serviceType)
	if want != "" {
		for _, s := range services {
			if normalizeName(s.Name) == want {
				return s.Opcode, ""
			}
		}
	}
	if defaultOpcode == "" {
		return "", "no XTime service of the dealer is named " + quoteOrNone(serviceType) + ", and defaultOpcode is not set"
	}
	for _, s := range services {
		if s.Opcode == defaultOpcode {
			return s.Opcode, ""
		}
	}
	return "", "defaultOpcode " + defaultOpcode + " is not one of the dealer's XTime services (" + opcodes(services) + ")"
}

func normalizeName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func quoteOrNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(the appointment has no service type)"
	}
	return `"` + truncate(s, 100) + `"`
}

// opcodes lists the first opcodes of services, for an error message.
func opcodes(services []Service) string {
	if len(services) == 0 {
		return "XTime lists none"
	}
	var ops []string
	for i, s := range services {
		if i == 10 {
			ops = append(ops, "...")
			break
		}
		ops = append(ops, s.Opcode)
	}
	return strings.Join(ops, ", ")
}
