package client

import (
	"context"

	"github.com/safe-launcher/launcher/wire"
)

// DNS. A long name (e.g. "example") is registered by one app, which owns
// it; each of its services (e.g. "www") points at a directory of that app
// (its home directory), served by the launcher's web gateway at
// http://<service>.<long name>.localhost:<port>/. Names are lower-cased.

// RegisterDNS registers a new long name with its first service (dns/register-dns).
func (c *Client) RegisterDNS(ctx context.Context, r ServiceRequest) error {
	return c.Call(ctx, ep10("dns", "register-dns"), r, nil)
}

// AddService adds a service to a long name this app registered (dns/add-service).
func (c *Client) AddService(ctx context.Context, r ServiceRequest) error {
	return c.Call(ctx, ep10("dns", "add-service"), r, nil)
}

// ListLongNames lists the registered long names, sorted (dns/list-long-names, v1.1).
func (c *Client) ListLongNames(ctx context.Context) ([]string, error) {
	var out wire.LongNamesResponse
	if err := c.Call(ctx, ep11("dns", "list-long-names"), struct{}{}, &out); err != nil {
		return nil, err
	}
	return out.LongNames, nil
}

// ListServices lists a long name's services, sorted (dns/list-services, v1.1).
func (c *Client) ListServices(ctx context.Context, longName string) ([]string, error) {
	var out wire.ServicesResponse
	if err := c.Call(ctx, ep11("dns", "list-services"), wire.LongNameRequest{LongName: longName}, &out); err != nil {
		return nil, err
	}
	return out.Services, nil
}

// GetHomeDir lists a service's home directory (dns/get-home-dir, v1.1).
func (c *Client) GetHomeDir(ctx context.Context, longName, service string) (*GetDirResponse, error) {
	var out wire.GetDirResponse
	if err := c.Call(ctx, ep11("dns", "get-home-dir"), wire.ServiceNameRequest{LongName: longName, ServiceName: service}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetServiceFile reads a file below a service's home directory (dns/get-file,
// v1.1). Offset and Length are GetFile's: a Length of 0 or less reads to the
// end of the file.
func (c *Client) GetServiceFile(ctx context.Context, r ServiceFileRequest) (*GetFileResponse, error) {
	if r.Length == 0 {
		r.Length = -1
	}
	var out wire.GetFileResponse
	if err := c.Call(ctx, ep11("dns", "get-file"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteService removes one service of a long name this app owns (dns/delete-service, v1.1).
func (c *Client) DeleteService(ctx context.Context, longName, service string) error {
	return c.Call(ctx, ep11("dns", "delete-service"), wire.ServiceNameRequest{LongName: longName, ServiceName: service}, nil)
}

// DeleteDNS removes a long name this app owns, with all its services (dns/delete-dns, v1.1).
func (c *Client) DeleteDNS(ctx context.Context, longName string) error {
	return c.Call(ctx, ep11("dns", "delete-dns"), wire.LongNameRequest{LongName: longName}, nil)
}
