package client

import (
	"context"

	"github.com/safe-launcher/launcher/wire"
)

// RegisterDNS registers a new long name with its first service (dns/register-dns).
func (c *Client) RegisterDNS(ctx context.Context, r wire.ServiceRequest) error {
	return c.Call(ctx, ep10("dns", "register-dns"), r, nil)
}

// AddService adds a service to a registered long name (dns/add-service).
func (c *Client) AddService(ctx context.Context, r wire.ServiceRequest) error {
	return c.Call(ctx, ep10("dns", "add-service"), r, nil)
}

// ListLongNames lists the registered long names (dns/list-long-names, v1.1).
func (c *Client) ListLongNames(ctx context.Context) ([]string, error) {
	var out wire.LongNamesResponse
	if err := c.Call(ctx, ep11("dns", "list-long-names"), struct{}{}, &out); err != nil {
		return nil, err
	}
	return out.LongNames, nil
}

// ListServices lists a long name's services (dns/list-services, v1.1).
func (c *Client) ListServices(ctx context.Context, longName string) ([]string, error) {
	var out wire.ServicesResponse
	if err := c.Call(ctx, ep11("dns", "list-services"), wire.LongNameRequest{LongName: longName}, &out); err != nil {
		return nil, err
	}
	return out.Services, nil
}

// GetHomeDir lists a service's home directory (dns/get-home-dir, v1.1).
func (c *Client) GetHomeDir(ctx context.Context, longName, service string) (*wire.GetDirResponse, error) {
	var out wire.GetDirResponse
	if err := c.Call(ctx, ep11("dns", "get-home-dir"), wire.ServiceNameRequest{LongName: longName, ServiceName: service}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetServiceFile reads a file below a service's home directory (dns/get-file, v1.1).
func (c *Client) GetServiceFile(ctx context.Context, r wire.ServiceFileRequest) (*wire.GetFileResponse, error) {
	var out wire.GetFileResponse
	if err := c.Call(ctx, ep11("dns", "get-file"), r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteService removes one service of a long name (dns/delete-service, v1.1).
func (c *Client) DeleteService(ctx context.Context, longName, service string) error {
	return c.Call(ctx, ep11("dns", "delete-service"), wire.ServiceNameRequest{LongName: longName, ServiceName: service}, nil)
}

// DeleteDNS removes a long name with all its services (dns/delete-dns, v1.1).
func (c *Client) DeleteDNS(ctx context.Context, longName string) error {
	return c.Call(ctx, ep11("dns", "delete-dns"), wire.LongNameRequest{LongName: longName}, nil)
}
