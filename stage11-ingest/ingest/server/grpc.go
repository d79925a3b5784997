package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tsdb-course/stage11-ingest/otlp"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GRPC returns a gRPC server offering OTLP's MetricsService/Export over
// h's pipeline, for an OpenTelemetry Collector's otlp exporter (its own
// port; the caller serves it). A full queue is RESOURCE_EXHAUSTED with a
// RetryInfo, which OTLP clients retry after its delay; a request that does
// not decode is INVALID_ARGUMENT.
//
// The request reaches Export as the bytes that arrived (the server's codec,
// rawCodec, leaves it undecoded), for the same wire decoder as HTTP's
// protobuf; the answers, and the messages of any other service registered
// on the server, are plain protobuf.
func (h *HTTP) GRPC(opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(int(h.o.Limits.MaxBodyBytes)), grpc.ForceServerCodecV2(rawCodec{})}, opts...)...)
	s.RegisterService(&metricsServiceDesc, h)
	return s
}

// rawRequest is a request message left in protobuf: buf is a reference
// taken on the received bytes, freed once decoded.
type rawRequest struct{ buf mem.Buffer }

// rawCodec is gRPC's protobuf codec, except that it leaves a rawRequest
// undecoded.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("grpc codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *rawRequest:
		// A reference of our own: gRPC frees data when this returns.
		m.buf = data.MaterializeToBuffer(mem.DefaultBufferPool())
		return nil
	case proto.Message:
		return proto.Unmarshal(data.Materialize(), m)
	}
	return fmt.Errorf("grpc codec: cannot unmarshal into %T", v)
}

// metricsServiceDesc is colmetrics.MetricsService_ServiceDesc with a
// handler that takes a rawRequest.
var metricsServiceDesc = grpc.ServiceDesc{
	ServiceName: colmetrics.MetricsService_ServiceDesc.ServiceName,
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: exportHandler}},
	Metadata:    colmetrics.MetricsService_ServiceDesc.Metadata,
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := &rawRequest{}
	if err := dec(req); err != nil {
		return nil, err
	}
	h := srv.(*HTTP)
	if interceptor == nil {
		return h.grpcExport(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: colmetrics.MetricsService_Export_FullMethodName}
	return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) { return h.grpcExport(ctx, req.(*rawRequest)) })
}

func (h *HTTP) grpcExport(ctx context.Context, req *rawRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	defer req.buf.Free()
	body := req.buf.ReadOnlyData()
	resp, code, err := h.export(ctx, func(d *otlp.Decoder, wr otlp.Writer) (otlp.Stats, error) { return d.DecodeProtobuf(wr, body) })
	if err == nil {
		return resp, nil
	}
	switch code {
	case http.StatusBadRequest:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case http.StatusTooManyRequests:
		st, _ := status.New(codes.ResourceExhausted, err.Error()).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(h.o.RetryAfter)})
		return nil, st.Err()
	case http.StatusInternalServerError:
		return nil, status.Error(codes.Internal, err.Error())
	}
	return nil, status.Error(codes.Unavailable, err.Error())
}
