package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/safe-launcher/launcher/dns"
	"github.com/safe-launcher/launcher/wire"
)

// DNS is what the control server needs of the dns module.
// *dns.Module implements it.
type DNS interface {
	Names(ctx context.Context) ([]dns.NameInfo, error)
	Resolve(ctx context.Context, host string) (dns.Resolved, error)
}

var _ DNS = (*dns.Module)(nil)

// DNSService is one service of a long name, as listed by GET /v0/dns.
type DNSService struct {
	Name    string    `json:"name"`
	Root    string    `json:"root"`
	Path    string    `json:"path"` // current path of the home directory; "" if gone
	Gone    bool      `json:"gone"`
	Private bool      `json:"private"`
	Added   time.Time `json:"added"`
	URL     string    `json:"url,omitempty"` // gateway URL, when the gateway runs
}

// DNSName is a registered long name, as listed by GET /v0/dns.
type DNSName struct {
	LongName string       `json:"long_name"`
	Owner    string       `json:"owner"` // app name (app id if the app was removed)
	Created  time.Time    `json:"created"`
	Services []DNSService `json:"services"`
}

// DNSResolved is the answer of GET /v0/dns/resolve/{host}.
type DNSResolved struct {
	Host     string `json:"host"`
	LongName string `json:"long_name"`
	Service  string `json:"service"`
	Owner    string `json:"owner"`
	Root     string `json:"root"`
	Path     string `json:"path"`
	Private  bool   `json:"private"`
	URL      string `json:"url,omitempty"`
}

func (s *Server) dnsModule() (DNS, error) {
	if s.cfg.DNS == nil {
		return nil, &Error{Code: CodeNotFound, Message: "the dns module is not served by this daemon"}
	}
	return s.cfg.DNS, nil
}

// ownerName returns the app name for an app id, or the id.
func (s *Server) ownerName(id string) string {
	if a, ok := s.cfg.Registry.App(id); ok {
		return a.Name
	}
	return id
}

// siteURL is the gateway's URL of a site: the gateway's port with the host
// <host>.localhost ("" when the gateway is off).
func (s *Server) siteURL(host string) string {
	if s.cfg.Gateway == nil {
		return ""
	}
	_, port, err := net.SplitHostPort(s.cfg.Gateway.String())
	if err != nil {
		return ""
	}
	return "http://" + net.JoinHostPort(host+".localhost", port) + "/"
}

func (s *Server) dnsNames(r *http.Request) (any, error) {
	d, err := s.dnsModule()
	if err != nil {
		return nil, err
	}
	names, err := d.Names(r.Context())
	if err != nil {
		return nil, err
	}
	out := []DNSName{}
	for _, n := range names {
		dn := DNSName{LongName: n.LongName, Owner: s.ownerName(n.Owner), Created: n.Created, Services: []DNSService{}}
		for _, sv := range n.Services {
			ds := DNSService{Name: sv.Name, Root: sv.Root, Path: sv.Path, Gone: sv.Gone, Private: sv.Private, Added: sv.Added}
			if !sv.Gone && !sv.Private {
				ds.URL = s.siteURL(sv.Name + "." + n.LongName)
			}
			dn.Services = append(dn.Services, ds)
		}
		out = append(out, dn)
	}
	return out, nil
}

func (s *Server) dnsResolve(r *http.Request) (any, error) {
	d, err := s.dnsModule()
	if err != nil {
		return nil, err
	}
	res, err := d.Resolve(r.Context(), r.PathValue("host"))
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) {
			code := CodeNotFound
			if we.Code == wire.CodeInvalidDNSName {
				code = CodeInvalid
			}
			return nil, &Error{Code: code, Message: we.Description}
		}
		return nil, err
	}
	out := DNSResolved{Host: res.Host(), LongName: res.LongName, Service: res.Service, Owner: s.ownerName(res.Owner),
		Root: res.Root.String(), Path: res.Path.String(), Private: res.Dir.Private}
	if !res.Dir.Private {
		out.URL = s.siteURL(res.Host())
	}
	return out, nil
}

// DNSNames lists the registered long names with their services.
func (c *Client) DNSNames(ctx context.Context) ([]DNSName, error) {
	var out []DNSName
	err := c.do(ctx, "GET", "dns", nil, &out)
	return out, err
}

// Resolve resolves "<service>.<long_name>" to its home directory.
func (c *Client) Resolve(ctx context.Context, host string) (DNSResolved, error) {
	var out DNSResolved
	err := c.do(ctx, "GET", "dns/resolve/"+url.PathEscape(host), nil, &out)
	return out, err
}
