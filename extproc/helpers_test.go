package extproc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmvoy/llmvoy/config"
	"github.com/llmvoy/llmvoy/extproc"
	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/router"
)

// Secrets the test configs resolve through os.environ/ references. Tests
// check that none of them reaches a log line or a response body it should
// not.
const (
	masterKey     = "sk-master-7f3a"
	deploymentKey = "sk-openai-deployment-91c2"
)

// maxMessage is the gRPC message limit of llmvoy run and of Envoy's side.
const maxMessage = plan.DefaultMaxRequestBytes + 1<<20

// extProcFilterName is the key Envoy files request attributes under: the
// name of the ext_proc filter that asked for them.
const extProcFilterName = "envoy.filters.http.ext_proc"

// testEnv is the process environment the test configs see.
var testEnv = map[string]string{
	"MASTER_KEY":     masterKey,
	"OPENAI_API_KEY": deploymentKey,
}

// parseConfig parses a LiteLLM config the way llmvoy run does, against env.
func parseConfig(t testing.TB, yaml string, env map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse([]byte(yaml), "test.yaml", func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

// mustPlan plans cfg, as the control loop does before the server gets it.
func mustPlan(t testing.TB, cfg *config.Config) *plan.Plan {
	t.Helper()
	p, err := plan.Build(cfg)
	require.NoError(t, err)
	return p
}

// harness is a real extproc.Server behind a loopback gRPC listener, and a
// client connection to it that plays Envoy's part.
type harness struct {
	server *extproc.Server
	client extprocv3.ExternalProcessorClient
	logs   *syncbuf.Buffer
	// ended receives what each Process call returned, in the order the
	// streams ended (dropped when nobody reads).
	ended chan error
	// received gets a signal for each message the server has read (dropped
	// when nobody reads): a test can wait until a request has started.
	received chan struct{}
}

// noticing is a server stream that signals each message it reads.
type noticing struct {
	grpc.ServerStream
	received chan struct{}
}

func (n noticing) RecvMsg(m any) error {
	err := n.ServerStream.RecvMsg(m)
	if err == nil {
		select {
		case n.received <- struct{}{}:
		default:
		}
	}
	return err
}

func startServer(t testing.TB, cfg *config.Config) *harness {
	t.Helper()
	return startServerWithCooldowns(t, cfg, router.NewCooldowns(cfg))
}

// startServerWithCooldowns is startServer reading cooldowns from c.
func startServerWithCooldowns(t testing.TB, cfg *config.Config, c *router.Cooldowns) *harness {
	t.Helper()
	return newHarness(t, cfg, c, nil)
}

// newHarness serves cfg, reading cooldowns from c, with setup (if any)
// applied to the server before it serves, as llmvoy run sets keys and
// metrics.
func newHarness(t testing.TB, cfg *config.Config, c *router.Cooldowns, setup func(*extproc.Server)) *harness {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &syncbuf.Buffer{}
	// Debug level, so the debug-only log lines run too (and are checked for
	// secrets).
	srv := extproc.NewServer(mustPlan(t, cfg), c, router.NewBalance(cfg), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if setup != nil {
		setup(srv)
	}
	ended := make(chan error, 16)
	received := make(chan struct{}, 16)
	record := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, noticing{ServerStream: ss, received: received})
		select {
		case ended <- err:
		default:
		}
		return err
	}
	// The message limits of llmvoy run (cmd/llmvoy): a vision body travels
	// in one message.
	g := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage), grpc.StreamInterceptor(record))
	srv.Register(g)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		<-served
	})
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &harness{server: srv, client: extprocv3.NewExternalProcessorClient(conn), logs: logs, ended: ended, received: received}
}

// open starts one ext_proc stream the way one of Envoy's two filters does:
// the filter's grpc_service initial_metadata names the processor. An empty
// processor sends no metadata.
func (h *harness) open(t testing.TB, processor string) extprocv3.ExternalProcessor_ProcessClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if processor != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, plan.ProcessorHeader, processor)
	}
	stream, err := h.client.Process(ctx)
	require.NoError(t, err)
	return stream
}

// header is one request header as the client sent it.
type header struct{ key, value string }

// requestHeaders is the first message Envoy 1.40 sends on a stream: the
// request headers, values in raw_value, pseudo-headers first, and the
// filter's protocol configuration. endOfStream is true for a request without
// a body.
func requestHeaders(method, path string, endOfStream bool, extra ...header) *extprocv3.ProcessingRequest {
	defaults := []header{
		{":authority", "localhost:4000"},
		{":path", path},
		{":method", method},
		{":scheme", "http"},
		{"user-agent", "OpenAI/Python 1.99.0"},
		{"accept", "application/json"},
		{"x-forwarded-proto", "http"},
		{"x-request-id", "5f0c2a4e-2d7b-4b8e-9d0a-1c1f3c9e7a11"},
	}
	// An extra header replaces a default of the same name.
	all := slices.DeleteFunc(defaults, func(d header) bool {
		return slices.ContainsFunc(extra, func(e header) bool { return e.key == d.key })
	})
	all = append(all, extra...)
	hs := make([]*corev3.HeaderValue, 0, len(all))
	for _, h := range all {
		hs = append(hs, &corev3.HeaderValue{Key: h.key, RawValue: []byte(h.value)})
	}
	return &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			Headers:     &corev3.HeaderMap{Headers: hs},
			EndOfStream: endOfStream,
		}},
		ProtocolConfig: &extprocv3.ProtocolConfiguration{
			RequestBodyMode:  filterv3.ProcessingMode_BUFFERED,
			ResponseBodyMode: filterv3.ProcessingMode_NONE,
		},
	}
}

// postHeaders are the headers of a POST with a JSON body (an extra
// content-type replaces JSON's).
func postHeaders(path string, body []byte, extra ...header) *extprocv3.ProcessingRequest {
	hs := []header{{"content-length", strconv.Itoa(len(body))}}
	if !slices.ContainsFunc(extra, func(h header) bool { return h.key == "content-type" }) {
		hs = append(hs, header{"content-type", "application/json"})
	}
	return requestHeaders("POST", path, false, append(hs, extra...)...)
}

// requestBody is the BUFFERED body phase: the whole body at once.
func requestBody(body []byte) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true},
	}}
}

// hostMetadataText is config.core.v3.Metadata for an endpoint of the given
// deployment, in protobuf text format: how Envoy sends the message-typed
// xds.upstream_host_metadata attribute.
func hostMetadataText(t testing.TB, deploymentID string) string {
	t.Helper()
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		plan.MetadataNamespace: {Fields: map[string]*structpb.Value{
			plan.MetadataDeploymentID: structpb.NewStringValue(deploymentID),
		}},
	}}
	text, err := prototext.Marshal(md)
	require.NoError(t, err)
	return string(text)
}

// hostAttributes are the attributes Envoy sends with the upstream filter's
// request_headers message, with the host metadata given as text.
func hostAttributes(metadataText string) map[string]*structpb.Struct {
	return map[string]*structpb.Struct{extProcFilterName: {Fields: map[string]*structpb.Value{
		plan.AttrUpstreamHostMetadata: structpb.NewStringValue(metadataText),
	}}}
}

// attempt is the upstream filter's request_headers message for an attempt on
// the given deployment: the client's headers as the router forwards them,
// plus the picked host's metadata.
func attempt(t testing.TB, deploymentID, path string, body []byte, extra ...header) *extprocv3.ProcessingRequest {
	t.Helper()
	req := postHeaders(path, body, append([]header{
		{plan.RouteHeader, "group_gpt-4o"},
		{"x-envoy-expected-rq-timeout-ms", "600000"},
	}, extra...)...)
	req.Attributes = hostAttributes(hostMetadataText(t, deploymentID))
	return req
}

// sendHeaders sends a request's headers on a gateway stream. Its request
// body mode is FULL_DUPLEX_STREAMED: Envoy sends the body next without
// waiting, and the gateway answers the headers only once it has the body
// (or at once when it answers the request itself: use exchange then).
func sendHeaders(t testing.TB, stream extprocv3.ExternalProcessor_ProcessClient, req *extprocv3.ProcessingRequest) {
	t.Helper()
	require.NoError(t, stream.Send(req))
}

// bodyAnswer sends the whole body after sendHeaders and returns the
// gateway's answer to the request: an immediate response, or the answers to
// both phases folded by foldDuplex.
func bodyAnswer(t testing.TB, stream extprocv3.ExternalProcessor_ProcessClient, body []byte) *extprocv3.ProcessingResponse {
	t.Helper()
	require.NoError(t, stream.Send(requestBody(body)))
	first, err := stream.Recv()
	require.NoError(t, err)
	if first.GetImmediateResponse() != nil {
		return first
	}
	second, err := stream.Recv()
	require.NoError(t, err)
	folded, err := foldDuplex(first, second, body)
	require.NoError(t, err)
	return folded
}

// foldDuplex turns the gateway's two full-duplex answers (the headers' one,
// which carries every header mutation, then the whole body) into the one
// answer a BUFFERED body phase would give: the mutation, and the body only
// when it differs from the client's.
func foldDuplex(headers, body *extprocv3.ProcessingResponse, sent []byte) (*extprocv3.ProcessingResponse, error) {
	hr := headers.GetRequestHeaders()
	if hr == nil {
		return nil, fmt.Errorf("first answer is not the headers': %v", headers)
	}
	streamed := body.GetRequestBody().GetResponse().GetBodyMutation().GetStreamedResponse()
	if streamed == nil || !streamed.GetEndOfStream() {
		return nil, fmt.Errorf("second answer is not the whole body: %v", body)
	}
	common := &extprocv3.CommonResponse{
		HeaderMutation:  hr.GetResponse().GetHeaderMutation(),
		ClearRouteCache: hr.GetResponse().GetClearRouteCache(),
	}
	if !bytes.Equal(streamed.GetBody(), sent) {
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: streamed.GetBody()}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: common},
	}, DynamicMetadata: headers.GetDynamicMetadata()}, nil
}

// exchange sends one phase and returns the server's answer to it.
func exchange(t testing.TB, stream extprocv3.ExternalProcessor_ProcessClient, req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	t.Helper()
	require.NoError(t, stream.Send(req))
	resp, err := stream.Recv()
	require.NoError(t, err)
	return resp
}

// finish closes the stream as Envoy does once the request is done and
// checks that the server ends it with an OK status.
func finish(t testing.TB, stream extprocv3.ExternalProcessor_ProcessClient) {
	t.Helper()
	require.NoError(t, stream.CloseSend())
	_, err := stream.Recv()
	require.ErrorIs(t, err, io.EOF)
}

// requireProtoEqual compares whole messages and prints both in text format
// when they differ.
func requireProtoEqual(t testing.TB, want, got proto.Message) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Fatalf("messages differ\nwant: %s\ngot:  %s", prototext.Format(want), prototext.Format(got))
	}
}

// headerMutation is what a HeaderMutation does, flattened. Every set header
// must overwrite (a duplicate of a credential or of :path is never right)
// and carry its value in raw_value, which is where Envoy 1.40 reads it.
type headerMutation struct {
	set    map[string]string
	remove []string
}

func flattenMutation(t testing.TB, m *extprocv3.HeaderMutation) headerMutation {
	t.Helper()
	out := headerMutation{set: map[string]string{}, remove: m.GetRemoveHeaders()}
	for _, o := range m.GetSetHeaders() {
		key := o.GetHeader().GetKey()
		require.Equal(t, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, o.GetAppendAction(), "header %s", key)
		require.Empty(t, o.GetHeader().GetValue(), "header %s: value must be in raw_value", key)
		require.NotContains(t, out.set, key, "header %s set twice", key)
		out.set[key] = string(o.GetHeader().GetRawValue())
	}
	return out
}

// localReply is an immediate response, flattened.
type localReply struct {
	status  int
	headers map[string]string
	body    []byte
}

func requireImmediate(t testing.TB, resp *extprocv3.ProcessingResponse) localReply {
	t.Helper()
	ir := resp.GetImmediateResponse()
	require.NotNil(t, ir, "want an immediate response, got %s", prototext.Format(resp))
	return localReply{
		status:  int(ir.GetStatus().GetCode()),
		headers: flattenMutation(t, ir.GetHeaders()).set,
		body:    ir.GetBody(),
	}
}

// openAIError is OpenAI's error body. Param and Code are pointers because
// OpenAI sends null for them; the SDKs read all four keys.
type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// requireAPIError checks an immediate response is an OpenAI-shaped error
// with the given status and type, and returns the error object.
func requireAPIError(t testing.TB, resp *extprocv3.ProcessingResponse, status int, typ string) openAIError {
	t.Helper()
	return requireAPIErrorReply(t, requireImmediate(t, resp), status, typ)
}

// requireAPIErrorReply is requireAPIError for a reply already flattened.
func requireAPIErrorReply(t testing.TB, r localReply, status int, typ string) openAIError {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.headers["content-type"])

	var shape map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &shape), "body: %s", r.body)
	require.Len(t, shape, 1, "body: %s", r.body)
	require.Contains(t, shape, "error")
	for _, k := range []string{"message", "type", "param", "code"} {
		require.Contains(t, shape["error"], k, "body: %s", r.body)
	}
	require.Len(t, shape["error"], 4, "body: %s", r.body)

	var e struct {
		Error openAIError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e))
	require.Equal(t, typ, e.Error.Type, "body: %s", r.body)
	require.NotEmpty(t, e.Error.Message)
	require.NotNil(t, e.Error.Code, "body: %s", r.body)
	return e.Error
}

// visionBody is a chat request with an inline image of about n bytes of
// base64, as the OpenAI SDKs send a local image.
func visionBody(model string, n int) string {
	image := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01}, n/16+1))
	return `{"model":"` + model + `","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,` + image + `"}}]}],"max_tokens":300}`
}

func ptr[T any](v T) *T { return &v }
