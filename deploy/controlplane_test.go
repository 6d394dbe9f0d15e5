package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/llmvoy/llmvoy/internal/syncbuf"
	"github.com/llmvoy/llmvoy/plan"
	"github.com/llmvoy/llmvoy/xds"
)

// configMapVolume lays a config out the way the kubelet projects a
// ConfigMap: the file is a symlink through ..data to a timestamped directory,
// and an update swaps ..data atomically.
type configMapVolume struct {
	dir     string
	version int
}

func (v *configMapVolume) write(t *testing.T, key string, data []byte) {
	t.Helper()
	v.version++
	ts := "..v" + strconv.Itoa(v.version)
	require.NoError(t, os.Mkdir(filepath.Join(v.dir, ts), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(v.dir, ts, key), data, 0o644))
	tmp := filepath.Join(v.dir, "..data_tmp")
	require.NoError(t, os.Symlink(ts, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(v.dir, "..data")))
	link := filepath.Join(v.dir, key)
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		require.NoError(t, os.Symlink(filepath.Join("..data", key), link))
	}
}

// bootstrapNode is the xDS node a bootstrap makes Envoy present.
func bootstrapNode(t *testing.T, bootstrap string) *corev3.Node {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(bootstrap))
	require.NoError(t, err)
	var doc struct {
		Node json.RawMessage `json:"node"`
	}
	require.NoError(t, json.Unmarshal(js, &doc))
	node := &corev3.Node{}
	require.NoError(t, protojson.Unmarshal(doc.Node, node))
	return node
}

// adsState is what an xDS client has been sent so far.
type adsState struct {
	listenerPort uint32   // the gateway listener's
	clusters     []string // names, sorted
}

// TestControlPlaneWithoutEnvoy runs `llmvoy run --no-envoy` the way the
// llmvoy image does: no Envoy binary anywhere (the image has none; Envoy is
// its own container), the compose config in a kubelet-style ConfigMap
// volume, the keys from the environment. It plays an Envoy started with
// `llmvoy bootstrap`: over ADS it must get its gateway listener on the port
// its bootstrap asks for, a cluster per model group, and a ConfigMap update
// within seconds. On SIGTERM, as the kubelet and compose send it, it stops
// promptly. Everything stays on loopback: the config's mock host becomes
// 127.0.0.1 and nothing is sent upstream.
func TestControlPlaneWithoutEnvoy(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(root, "examples/compose/config.yaml"))
	require.NoError(t, err)
	data = bytes.ReplaceAll(data, []byte("http://mock:"), []byte("http://127.0.0.1:"))
	vol := &configMapVolume{dir: filepath.Join(dir, "config")}
	require.NoError(t, os.Mkdir(vol.dir, 0o755))
	vol.write(t, "config.yaml", data)

	// The compose file's llmvoy command line, its paths moved into the
	// test's directories.
	_, given := parseCommand(t, loadCompose(t).Services["llmvoy"].Command)
	sockParent, err := os.MkdirTemp("", "llmvoy-vol")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(sockParent) })
	controlDir := filepath.Join(sockParent, filepath.Base(given["control-dir"]))
	xdsSock := filepath.Join(controlDir, "xds.sock")
	procSock := filepath.Join(controlDir, "extproc.sock")
	cmd := exec.Command(llmvoyBin, "run", "--no-envoy", "--config", filepath.Join(vol.dir, "config.yaml"),
		"--control-dir", controlDir)
	cmd.Dir = dir
	// No ENVOY_BIN, no envoy on PATH, no .venv: like the distroless image.
	cmd.Env = []string{"PATH=" + dir, "HOME=" + dir, "LLMVOY_MASTER_KEY=sk-test"}
	logs := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	deadline := time.Now().Add(10 * time.Second)
	for _, sock := range []string{xdsSock, procSock} {
		for {
			conn, err := net.DialTimeout("unix", sock, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-exited:
				stopped = true
				t.Fatalf("llmvoy run --no-envoy exited (%v) instead of serving %s:\n%s", err, sock, logs.String())
			case <-time.After(50 * time.Millisecond):
			}
			require.True(t, time.Now().Before(deadline), "nothing serves %s:\n%s", sock, logs.String())
		}
	}
	checkNeighbourLockedOut(t, controlDir, xdsSock, procSock)

	// An Envoy whose bootstrap asks for another port than llmvoy's --port.
	const envoyPort = 14000
	node := bootstrapNode(t, bootstrapFor(t, "--control-dir", controlDir,
		"--port", strconv.Itoa(envoyPort), "--admin-socket", adminSocket))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Envoy's side of the socket: llmvoy's user here.
	conn, err := grpc.NewClient("unix://"+xdsSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	require.NoError(t, err)
	for _, typ := range []string{resource.ClusterType, resource.ListenerType} {
		require.NoError(t, stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typ}))
	}
	var state adsState
	// await reads responses, acknowledging each as Envoy does, until done
	// holds for what was sent.
	await := func(what string, done func(adsState) bool) {
		t.Helper()
		for !done(state) {
			resp, err := stream.Recv()
			require.NoError(t, err, "waiting for %s:\n%s", what, logs.String())
			require.NoError(t, stream.Send(&discoveryv3.DiscoveryRequest{
				TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(),
			}))
			switch resp.GetTypeUrl() {
			case resource.ClusterType:
				state.clusters = nil
				for _, r := range resp.GetResources() {
					var c clusterv3.Cluster
					require.NoError(t, r.UnmarshalTo(&c))
					state.clusters = append(state.clusters, c.GetName())
				}
				slices.Sort(state.clusters)
			case resource.ListenerType:
				for _, r := range resp.GetResources() {
					var l listenerv3.Listener
					require.NoError(t, r.UnmarshalTo(&l))
					if l.GetName() == xds.ListenerName {
						state.listenerPort = l.GetAddress().GetSocketAddress().GetPortValue()
					}
				}
			}
		}
	}
	hasGroups := func(groups ...string) func(adsState) bool {
		return func(s adsState) bool {
			for _, g := range groups {
				if !slices.Contains(s.clusters, plan.ClusterName(g)) {
					return false
				}
			}
			return true
		}
	}
	await("the gateway listener", func(s adsState) bool { return s.listenerPort != 0 })
	require.Equal(t, uint32(envoyPort), state.listenerPort, "the listener is on the port the bootstrap asks for")
	await("the config's model groups", hasGroups("gpt-4o-mini", "text-embedding-3-small"))

	// A ConfigMap update, as the kubelet writes it, reaches Envoy.
	updated := bytes.Replace(data, []byte("\nrouter_settings:"), []byte(`  - model_name: added-by-update
    litellm_params:
      model: mock/added
      api_base: http://127.0.0.1:4010/v1

router_settings:`), 1)
	require.NotEqual(t, data, updated)
	changed := time.Now()
	vol.write(t, "config.yaml", updated)
	await("the updated config", hasGroups("added-by-update"))
	require.Less(t, time.Since(changed), 5*time.Second, "llmvoy picks up a ConfigMap update within its reload interval")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		stopped = true
		require.NoError(t, err, "exit status after SIGTERM:\n%s", logs.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM:\n%s", logs.String())
	}
	require.NotContains(t, logs.String(), "sk-test", "the master key stays out of the logs")
	for _, sock := range []string{xdsSock, procSock} {
		_, err := os.Lstat(sock)
		require.ErrorIs(t, err, fs.ErrNotExist, "%s is removed on exit", sock)
	}
}

// checkNeighbourLockedOut: the control directory is 0750 and its sockets
// 0660, so only llmvoy's user and group get in. Run as root, it tries for
// real, as other users: a neighbour (nobody, in its own group) is refused by
// the kernel, an Envoy in llmvoy's group connects. As another user it can
// only check the modes.
func checkNeighbourLockedOut(t *testing.T, dir string, sockets ...string) {
	t.Helper()
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o750), st.Mode().Perm(), "control directory %s", dir)
	for _, s := range sockets {
		st, err := os.Lstat(s)
		require.NoError(t, err)
		require.Equal(t, fs.ModeSocket, st.Mode().Type(), s)
		require.Equal(t, fs.FileMode(0o660), st.Mode().Perm(), "socket %s", s)
	}
	if os.Getuid() != 0 {
		t.Log("not root: cannot connect as another user; the modes above are what the kernel enforces")
		return
	}
	// The directory's parents let other users through to it, as a
	// volume's mount point does.
	for p := filepath.Dir(dir); p != "/"; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		require.NoError(t, err)
		if st.Mode().Perm()&0o001 == 0 {
			require.NoError(t, os.Chmod(p, st.Mode().Perm()|0o011))
			t.Cleanup(func() { os.Chmod(p, st.Mode().Perm()) })
		}
	}
	// A python3 other users may run (not one under root's home) plays the
	// neighbour's client.
	python := "/usr/bin/python3"
	_, err = os.Stat(python)
	require.NoError(t, err, "python3 plays the neighbour's client")
	connect := func(uid, gid uint32, sock string) (string, error) {
		cmd := exec.Command(python, "-c", "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])", sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	const nobody = 65534
	llmvoyGroup := uint32(os.Getgid())
	for _, s := range sockets {
		out, err := connect(nobody, nobody, s)
		require.Error(t, err, "a neighbour connected to %s", s)
		require.Contains(t, out, "PermissionError", "the kernel refuses the neighbour (%v)", err)
		out, err = connect(envoyUID, llmvoyGroup, s)
		require.NoError(t, err, "Envoy in llmvoy's group connects to %s: %s", s, out)
	}
}
