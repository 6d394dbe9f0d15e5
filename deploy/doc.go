// Package deploy has no code: it holds only tests that keep the deployment
// files honest. The Dockerfile, .dockerignore, docker-compose.yml and the
// Kubernetes manifests under examples/kubernetes are decoded strictly and
// checked against each other and against llmvoy itself: the flags its CLI
// defines, the configs it accepts and compiles to Envoy resources, the
// bootstrap `llmvoy bootstrap` prints, and the health endpoints its gateway
// answers.
//
// Some files are generated from llmvoy's output (the Envoy bootstraps); after
// a change to the bootstrap template or to the manifests, regenerate them:
//
//	go test ./deploy -update
package deploy
