package wire

// ServiceRequest is the data of dns/register-dns and dns/add-service (v1.0).
type ServiceRequest struct {
	LongName           string `json:"long_name"`
	ServiceName        string `json:"service_name"`
	IsPathShared       bool   `json:"is_path_shared"`
	ServiceHomeDirPath string `json:"service_home_dir_path"`
}

// DecodeFrom implements Decoder.
func (r *ServiceRequest) DecodeFrom(o *Object) {
	r.LongName = o.String("long_name")
	r.ServiceName = o.String("service_name")
	r.IsPathShared = o.Bool("is_path_shared")
	r.ServiceHomeDirPath = o.String("service_home_dir_path")
}

// LongNameRequest names a long name: data of dns/list-services and dns/delete-dns (v1.1).
type LongNameRequest struct {
	LongName string `json:"long_name"`
}

// DecodeFrom implements Decoder.
func (r *LongNameRequest) DecodeFrom(o *Object) { r.LongName = o.String("long_name") }

// ServiceNameRequest names one service: data of dns/get-home-dir and
// dns/delete-service (v1.1).
type ServiceNameRequest struct {
	LongName    string `json:"long_name"`
	ServiceName string `json:"service_name"`
}

// DecodeFrom implements Decoder.
func (r *ServiceNameRequest) DecodeFrom(o *Object) {
	r.LongName = o.String("long_name")
	r.ServiceName = o.String("service_name")
}

// ServiceFileRequest reads a file of a service's home directory: data of
// dns/get-file (v1.1). Offset and Length follow nfs/get-file.
type ServiceFileRequest struct {
	LongName        string `json:"long_name"`
	ServiceName     string `json:"service_name"`
	FilePath        string `json:"file_path"`
	Offset          int64  `json:"offset"`
	Length          int64  `json:"length"`
	IncludeMetadata bool   `json:"include_metadata"`
}

// DecodeFrom implements Decoder.
func (r *ServiceFileRequest) DecodeFrom(o *Object) {
	r.LongName = o.String("long_name")
	r.ServiceName = o.String("service_name")
	r.FilePath = o.String("file_path")
	r.Offset = o.Int64("offset")
	r.Length = o.Int64("length")
	r.IncludeMetadata = o.Bool("include_metadata")
}

// LongNamesResponse is the answer of dns/list-long-names (v1.1), sorted.
type LongNamesResponse struct {
	LongNames []string `json:"long_names"`
}

// ServicesResponse is the answer of dns/list-services (v1.1), sorted.
type ServicesResponse struct {
	Services []string `json:"services"`
}

// Empty is the data of requests that take none (dns/list-long-names). Any
// object, or no data at all, is accepted.
type Empty struct{}

// DecodeFrom implements Decoder.
func (*Empty) DecodeFrom(*Object) {}
