package server

import (
	"context"
	"net/http"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GRPC returns a gRPC server offering OTLP's MetricsService/Export over
// h's pipeline, for an OpenTelemetry Collector's otlp exporter (its own
// port; the caller serves it). A full queue is RESOURCE_EXHAUSTED with a
// RetryInfo, which OTLP clients retry after its delay.
func (h *HTTP) GRPC(opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(int(h.o.Limits.MaxBodyBytes))}, opts...)...)
	colmetrics.RegisterMetricsServiceServer(s, metricsService{h: h})
	return s
}

type metricsService struct {
	colmetrics.UnimplementedMetricsServiceServer
	h *HTTP
}

func (m metricsService) Export(ctx context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	resp, code, err := m.h.export(ctx, req)
	if err == nil {
		return resp, nil
	}
	switch code {
	case http.StatusTooManyRequests:
		st, _ := status.New(codes.ResourceExhausted, err.Error()).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(m.h.o.RetryAfter)})
		return nil, st.Err()
	case http.StatusInternalServerError:
		return nil, status.Error(codes.Internal, err.Error())
	}
	return nil, status.Error(codes.Unavailable, err.Error())
}
