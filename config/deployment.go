package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// origin is where a deployment's id came from, for duplicate-id messages.
type origin struct {
	path     string // model_list[i]
	line     int
	explicit bool // model_info.id, not generated
}

func (p *parser) modelList(root *value) []*Deployment {
	v := root.get("model_list")
	switch {
	case v == nil:
		p.errorf(root.line, "model_list", "missing; want a list of deployments")
		return nil
	case v.kind != kindList && !v.isNull():
		p.errorf(v.line, "model_list", "want a list of deployments, got %s", v.kind)
		return nil
	case len(v.items) == 0:
		p.errorf(v.line, "model_list", "empty; want at least one deployment")
		return nil
	}
	var out []*Deployment
	var origins []origin
	for i, item := range v.items {
		if d, o := p.deployment(i, item); d != nil {
			out = append(out, d)
			origins = append(origins, o)
		}
	}
	p.checkIDs(out, origins)
	return out
}

var deploymentKeys = setOf("model_name", "litellm_params", "model_info", "rpm", "tpm")

// deployment reads one model_list entry. It returns nil when the entry is
// too broken to look at further; errors are reported either way.
func (p *parser) deployment(i int, v *value) (*Deployment, origin) {
	path := fmt.Sprintf("model_list[%d]", i)
	o := origin{path: path, line: v.line}
	if v.kind != kindDict {
		p.errorf(v.line, path, "want a mapping with model_name and litellm_params, got %s", v.kind)
		return nil, o
	}
	for _, kv := range v.pairs {
		if !deploymentKeys[keyName(kv.key)] {
			p.unsupported(kv.key, joinPath(path, keyName(kv.key)))
		}
	}
	d := &Deployment{}
	d.ModelName = p.required(v, path, "model_name", "the model group name clients ask for")

	params := v.get("litellm_params")
	paramsPath := joinPath(path, "litellm_params")
	switch {
	case params.isNull():
		p.errorf(v.line, paramsPath, "missing; want a mapping with at least model")
		return nil, o
	case params.kind != kindDict:
		p.errorf(params.line, paramsPath, "want a mapping, got %s", params.kind)
		return nil, o
	}
	// The id below hashes params as written, without the credential's.
	lp := p.liteLLMParams(paramsPath, p.withCredential(paramsPath, params), d)
	// LiteLLM also takes rpm and tpm next to litellm_params.
	if !lp.rpmSet {
		if n := p.count(joinPath(path, "rpm"), v.get("rpm")); n != nil {
			d.RPM = *n
		}
	}
	if !lp.tpmSet {
		if n := p.count(joinPath(path, "tpm"), v.get("tpm")); n != nil {
			d.TPM = *n
		}
	}
	p.route(paramsPath, lp, d)
	p.modelInfo(joinPath(path, "model_info"), v.get("model_info"), d, &o)
	p.warnWildcard(path, v, lp)

	if name := v.get("model_name"); d.ID == "" && !name.isNull() {
		d.ID = liteLLMID(p.groupForID(name), resolveForID(params, p.lookupEnv))
	}
	return d, o
}

// required reads a string field that must be present and non-empty.
func (p *parser) required(v *value, path, key, want string) string {
	kpath := joinPath(path, key)
	f := v.get(key)
	if f.isNull() {
		p.errorf(v.line, kpath, "missing; want %s", want)
		return ""
	}
	s, _, ok := p.str(kpath, f)
	if ok && s == "" {
		p.errorf(f.line, kpath, "empty; want %s", want)
	}
	return s
}

// groupForID is the model_name as LiteLLM's Router sees it when it hashes:
// resolved against the process environment only (see resolveForID).
func (p *parser) groupForID(name *value) string {
	if name.kind == kindStr && strings.HasPrefix(name.s, envPrefix) {
		return pyStr(liteLLMSecret(name.s, p.lookupEnv))
	}
	return pyStr(name)
}

// liteLLMParams holds what routing needs from litellm_params beyond the
// fields it sets on the Deployment directly.
type liteLLMParams struct {
	model, custom  string
	modelLine      int
	customLine     int
	base, baseEnv  string
	baseLine       int
	baseUnset      bool   // api_base names an environment variable that is not set
	baseKey        string // the key base came from: api_base, or aws_bedrock_runtime_endpoint
	rpmSet, tpmSet bool
	// aws_region_name and aws_bedrock_runtime_endpoint, for Bedrock.
	region            string
	regionLine        int
	endpoint, endpEnv string
	endpointLine      int
	endpointUnset     bool
	// vertex_project, vertex_location and vertex_credentials, for Vertex
	// AI; credsKey is the key the credentials came from.
	vertexProject, vertexLocation string
	projectLine, locationLine     int
	vertexCreds, credsKey         string
	credsLine                     int
	credsSet                      bool
}

func (p *parser) liteLLMParams(path string, params *value, d *Deployment) liteLLMParams {
	lp := liteLLMParams{modelLine: params.line, baseKey: "api_base"}
	lp.model = p.required(params, path, "model", "provider/model, e.g. openai/gpt-4o")
	if m := params.get("model"); m != nil {
		lp.modelLine = m.line
	}
	for _, kv := range params.pairs {
		key := keyName(kv.key)
		kpath := joinPath(path, key)
		val := kv.val
		switch key {
		case "model", "litellm_credential_name": // the latter read by withCredential
		case "custom_llm_provider":
			if s, _, ok := p.str(kpath, val); ok && s != "" {
				lp.custom, lp.customLine = s, val.line
			}
		case "api_base":
			if s, name, ok := p.str(kpath, val); ok && s != "" {
				lp.base, lp.baseEnv, lp.baseLine = s, name, val.line
			} else if ok && name != "" {
				lp.baseUnset = true // str warned
			}
		case "api_key":
			if s, _, ok := p.str(kpath, val); ok {
				d.APIKey = Secret(s)
			}
		case "api_version":
			if s, _, ok := p.str(kpath, val); ok {
				d.APIVersion = s
			}
		case "timeout":
			d.Timeout, _ = p.seconds(kpath, val, false)
		case "stream_timeout":
			d.StreamTimeout, _ = p.seconds(kpath, val, false)
		case "weight":
			if f, ok := p.number(kpath, val); ok {
				if f <= 0 {
					p.errorf(val.line, kpath, "want a number > 0, got %s", formatNumber(f))
				} else {
					d.Weight = f
				}
			}
		case "input_cost_per_token", "output_cost_per_token":
			if f, ok := p.number(kpath, val); ok {
				if f < 0 {
					p.errorf(val.line, kpath, "want a number >= 0, got %s", formatNumber(f))
				} else if key == "input_cost_per_token" {
					d.InputCostPerToken = f
				} else {
					d.OutputCostPerToken = f
				}
			}
		case "order":
			if n, ok := p.integer(kpath, val); ok {
				if n < 1 {
					p.errorf(val.line, kpath, "want an integer >= 1, got %d", n)
				} else {
					d.Order = n
				}
			}
		case "rpm":
			lp.rpmSet = p.countInto(kpath, val, &d.RPM)
		case "tpm":
			lp.tpmSet = p.countInto(kpath, val, &d.TPM)
		case "max_parallel_requests":
			p.countInto(kpath, val, &d.MaxParallelRequests)
		case "aws_access_key_id":
			if s, _, ok := p.str(kpath, val); ok {
				d.AWS.AccessKeyID = Secret(s)
			}
		case "aws_secret_access_key":
			if s, _, ok := p.str(kpath, val); ok {
				d.AWS.SecretAccessKey = Secret(s)
			}
		case "aws_session_token":
			if s, _, ok := p.str(kpath, val); ok {
				d.AWS.SessionToken = Secret(s)
			}
		case "aws_region_name":
			if s, _, ok := p.str(kpath, val); ok && s != "" {
				lp.region, lp.regionLine = s, val.line
			}
		case "vertex_project", "vertex_ai_project":
			if s, _, ok := p.str(kpath, val); ok && s != "" {
				lp.vertexProject, lp.projectLine = s, val.line
			}
		case "vertex_location", "vertex_ai_location":
			if s, _, ok := p.str(kpath, val); ok && s != "" {
				lp.vertexLocation, lp.locationLine = s, val.line
			}
		case "vertex_credentials", "vertex_ai_credentials":
			lp.credsKey, lp.credsLine, lp.credsSet = key, val.line, true
			if val.kind == kindDict {
				// LiteLLM takes the key's JSON as a mapping too.
				b, err := json.Marshal(toGo(val))
				if err != nil {
					p.errorf(val.line, kpath, "want a service account key (JSON), or the path of its file")
				}
				lp.vertexCreds = string(b)
			} else if s, _, ok := p.str(kpath, val); ok {
				lp.vertexCreds = s
			}
		case "use_in_pass_through":
			d.UseInPassThrough, _ = p.boolean(kpath, val)
		case "aws_bedrock_runtime_endpoint":
			if s, name, ok := p.str(kpath, val); ok && s != "" {
				lp.endpoint, lp.endpEnv, lp.endpointLine = s, name, val.line
			} else if ok && name != "" {
				lp.endpointUnset = true
			}
		default:
			if !p.requestParam(key, kpath, val, d) {
				p.unsupported(kv.key, kpath)
			}
		}
	}
	// LiteLLM's Bedrock endpoint override is Bedrock's api_base; an
	// api_base wins over it, as in LiteLLM's get_runtime_endpoint.
	if lp.base == "" && !lp.baseUnset && (lp.endpoint != "" || lp.endpointUnset) && isBedrock(lp) {
		lp.base, lp.baseEnv, lp.baseLine, lp.baseUnset = lp.endpoint, lp.endpEnv, lp.endpointLine, lp.endpointUnset
		lp.baseKey = "aws_bedrock_runtime_endpoint"
	}
	return lp
}

// isBedrock reports whether litellm_params name a Bedrock model.
func isBedrock(lp liteLLMParams) bool {
	if lp.custom != "" {
		return lp.custom == "bedrock"
	}
	return strings.HasPrefix(lp.model, "bedrock/")
}

// countInto stores an integer >= 0 in dst and reports whether it did.
func (p *parser) countInto(path string, v *value, dst *int) bool {
	n := p.count(path, v)
	if n == nil {
		return false
	}
	*dst = *n
	return true
}

// route sets Provider, UpstreamModel, API and APIBase.
func (p *parser) route(path string, lp liteLLMParams, d *Deployment) {
	var base *url.URL
	if lp.base != "" {
		base = p.apiBase(joinPath(path, lp.baseKey), lp)
	}
	if lp.model == "" {
		return
	}
	if lp.custom != "" && !knownProvider(lp.custom) && lp.base == "" {
		p.errorf(lp.customLine, joinPath(path, "custom_llm_provider"), "unknown provider %q; set an api_base to use it as an OpenAI-compatible server", lp.custom)
		return
	}
	provider, upstream, problem := splitModel(lp.model, lp.custom, lp.base != "")
	if problem != "" {
		p.errorf(lp.modelLine, joinPath(path, "model"), "%s", problem)
		return
	}
	d.Provider, d.UpstreamModel = provider, upstream
	spec, supported := LookupProvider(provider)
	if supported {
		lp, base = p.envDefaults(path, lp, base, d)
	}
	defaultBase := spec.DefaultAPIBase
	if supported && spec.API == APIBedrock {
		p.aws(path, lp, d)
		defaultBase = strings.ReplaceAll(defaultBase, regionPlaceholder, d.AWS.Region)
	}
	if supported && spec.API == APIVertex {
		p.vertex(path, lp, d)
		defaultBase = vertexBase(defaultBase, d.Vertex.Location)
	}
	switch {
	case supported:
		d.API = spec.API
	case unroutable[provider] != "":
		p.errorf(lp.modelLine, joinPath(path, "model"), "provider %q %s", provider, unroutable[provider])
	case liteLLMProviders[provider]:
		// Validates, so the rest of a LiteLLM config still loads; the
		// router refuses to send to a deployment without an API.
		p.warnf(lp.modelLine, joinPath(path, "model"), "provider %q is not supported yet", provider)
	default:
		// An unknown prefix with an api_base: an OpenAI-compatible server.
		d.API = APIOpenAI
	}
	if d.API == APIVertex {
		p.vertexPartner(path, lp, d)
	}
	if provider == "vllm" {
		p.warnf(lp.modelLine, joinPath(path, "model"), "vllm/ runs the vLLM library inside LiteLLM; llmvoy sends to a vLLM server's OpenAI API instead, as hosted_vllm/ does")
	}
	if provider == "huggingface" && base == nil && lp.base == "" {
		if strings.HasPrefix(d.UpstreamModel, "http://") || strings.HasPrefix(d.UpstreamModel, "https://") {
			// LiteLLM's old form for an Inference Endpoint, which its
			// current provider-routing code no longer reads either.
			p.errorf(lp.modelLine, joinPath(path, "model"), "an endpoint URL as the model: write it as api_base, with the model name (or tgi) as huggingface/<model>")
			return
		}
		d.UpstreamModel = hfProviderModel(d.UpstreamModel)
	}
	switch {
	case base != nil:
		d.APIBase = normalizeAPIBase(provider, base)
	case lp.base != "":
		// Reported by apiBase.
	case supported && defaultBase != "":
		d.APIBase, _ = url.Parse(defaultBase)
	case supported && lp.baseUnset:
		// Loads, as in LiteLLM (CI validates without secrets), but cannot
		// be routed to until the variable is set.
		d.API = ""
	case supported:
		msg := fmt.Sprintf("missing; provider %q has no default api_base", provider)
		if env := providerEnv[provider].base; len(env) > 0 {
			msg += "; set api_base or " + strings.Join(env, " or ")
		}
		p.errorf(lp.modelLine, joinPath(path, "api_base"), "%s", msg)
	}
}

// defaultAWSRegion is LiteLLM's region when nothing names one
// (BaseAWSLLM._get_aws_region_name).
const defaultAWSRegion = "us-west-2"

// awsRegionPattern is what an AWS region looks like (us-east-1,
// us-gov-west-1); it becomes part of a host name and of every signature.
var awsRegionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)

// aws fills in a Bedrock deployment's region and credentials: the aws_*
// keys of litellm_params, else the environment, the way LiteLLM (through
// boto3) falls back to it. Region: aws_region_name, else the region of an
// ARN model id, else AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION, else
// LiteLLM's us-west-2. Credentials: aws_access_key_id and
// aws_secret_access_key (with aws_session_token), else AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func (p *parser) aws(path string, lp liteLLMParams, d *Deployment) {
	a := &d.AWS
	line, where := lp.modelLine, joinPath(path, "model")
	switch {
	case lp.region != "":
		a.Region, line, where = lp.region, lp.regionLine, joinPath(path, "aws_region_name")
	case arnRegion(d.UpstreamModel) != "":
		a.Region = arnRegion(d.UpstreamModel)
	default:
		if name, s := p.fromEnv([]string{"AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"}); name != "" {
			a.Region, where = s, where+" (region from "+name+")"
		}
	}
	if a.Region == "" {
		a.Region = defaultAWSRegion
		p.warnf(lp.modelLine, joinPath(path, "aws_region_name"), "no AWS region set (aws_region_name, AWS_REGION); using %s, LiteLLM's default", defaultAWSRegion)
	}
	if !awsRegionPattern.MatchString(a.Region) {
		p.errorf(line, where, "want an AWS region such as us-east-1, got %q", a.Region)
		a.Region = defaultAWSRegion // keeps the default api_base parseable; the error stands
	}

	if a.AccessKeyID == "" && a.SecretAccessKey == "" {
		id, _ := p.lookup("AWS_ACCESS_KEY_ID")
		secret, _ := p.lookup("AWS_SECRET_ACCESS_KEY")
		a.AccessKeyID, a.SecretAccessKey = Secret(id), Secret(secret)
		if a.SessionToken == "" {
			token, _ := p.lookup("AWS_SESSION_TOKEN")
			a.SessionToken = Secret(token)
		}
	}
	if a.AccessKeyID == "" || a.SecretAccessKey == "" {
		p.warnf(lp.modelLine, joinPath(path, "aws_access_key_id"), "no AWS credentials (aws_access_key_id and aws_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); requests are sent unsigned and Bedrock refuses them")
	}
}

// arnRegion is the region of an ARN model id
// (arn:aws:bedrock:us-east-1:123456789012:inference-profile/...), or "".
func arnRegion(model string) string {
	for _, route := range []string{"converse/", "invoke/"} {
		model = strings.TrimPrefix(model, route)
	}
	parts := strings.SplitN(model, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "bedrock" {
		return parts[3]
	}
	return ""
}

// defaultVertexLocation is LiteLLM's location when nothing names one
// (VertexBase.get_default_vertex_location).
const defaultVertexLocation = "us-central1"

// vertexLocationPattern is what a Google Cloud location looks like
// (us-central1, europe-west4, global); it becomes part of a host name.
var vertexLocationPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// vertexBase is the default endpoint for a location: the location's
// regional host, or aiplatform.googleapis.com for "global".
func vertexBase(base, location string) string {
	if location == "global" {
		return strings.ReplaceAll(base, locationPlaceholder+"-", "")
	}
	return strings.ReplaceAll(base, locationPlaceholder, location)
}

// vertex fills in a Vertex AI deployment's project, location and
// credentials as LiteLLM finds them: the vertex_* keys of litellm_params,
// else VERTEXAI_CREDENTIALS, VERTEXAI_PROJECT and VERTEXAI_LOCATION, else
// the file GOOGLE_APPLICATION_CREDENTIALS names and the project of the
// credentials. Without credentials, the upstream processor asks Google's
// application default credentials (gcloud's, the metadata server's).
func (p *parser) vertex(path string, lp liteLLMParams, d *Deployment) {
	v := &d.Vertex
	credsPath := joinPath(path, "vertex_credentials")
	creds, line, isFile := lp.vertexCreds, lp.credsLine, false
	if lp.credsKey != "" {
		credsPath = joinPath(path, lp.credsKey)
	}
	if !lp.credsSet {
		line = lp.modelLine
		if s, ok := p.lookup("VERTEXAI_CREDENTIALS"); ok && s != "" {
			creds, credsPath = s, credsPath+" (from VERTEXAI_CREDENTIALS)"
		} else if s, ok := p.lookup("GOOGLE_APPLICATION_CREDENTIALS"); ok && s != "" {
			creds, credsPath, isFile = s, credsPath+" (from GOOGLE_APPLICATION_CREDENTIALS)", true
		}
	}
	var projectOfCreds string
	if creds != "" {
		key, problem := googleCredentials(creds, isFile)
		if problem != "" {
			p.errorf(line, credsPath, "%s", problem)
		} else {
			v.Credentials, projectOfCreds = Secret(key.json), key.project
		}
	}

	switch {
	case lp.vertexProject != "":
		v.Project = lp.vertexProject
	default:
		if s, ok := p.lookup("VERTEXAI_PROJECT"); ok && s != "" {
			v.Project = s
		} else {
			v.Project = projectOfCreds
		}
	}
	if v.Project == "" {
		p.errorf(lp.modelLine, joinPath(path, "vertex_project"), "missing; want the Google Cloud project of the Vertex AI deployment (vertex_project, VERTEXAI_PROJECT, or the project_id of vertex_credentials)")
	}

	v.Location, line = lp.vertexLocation, lp.locationLine
	where := joinPath(path, "vertex_location")
	if v.Location == "" {
		line = lp.modelLine
		if s, ok := p.lookup("VERTEXAI_LOCATION"); ok && s != "" {
			v.Location, where = s, where+" (from VERTEXAI_LOCATION)"
		} else {
			v.Location = defaultVertexLocation
		}
	}
	if !vertexLocationPattern.MatchString(v.Location) {
		p.errorf(line, where, "want a Google Cloud location such as us-central1 or global, got %q", v.Location)
		v.Location = defaultVertexLocation // keeps the default api_base parseable; the error stands
	}
}

// googleKey is what llmvoy reads of a Google credentials JSON.
type googleKey struct {
	json    string
	project string
}

// googleCredentialTypes are the credential types the upstream processor
// can get access tokens for.
var googleCredentialTypes = setOf("service_account", "authorized_user")

// googleCredentials reads Google credentials: the JSON itself, or the path
// of a file holding it (LiteLLM tells them apart the same way). Problems
// never quote the key.
func googleCredentials(s string, isFile bool) (googleKey, string) {
	data := []byte(s)
	if !isFile && !strings.HasPrefix(strings.TrimSpace(s), "{") {
		isFile = true
	}
	if isFile {
		b, err := os.ReadFile(s)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is printed once, below
			}
			name := s
			if len(name) > 512 || strings.ContainsAny(name, "\n\"{}") {
				name = "the file" // rather a mangled key than a path: do not print it
			}
			return googleKey{}, fmt.Sprintf("cannot read %s: %v", name, err)
		}
		data = b
	}
	var f struct {
		Type           string `json:"type"`
		ProjectID      string `json:"project_id"`
		QuotaProjectID string `json:"quota_project_id"`
		ClientEmail    string `json:"client_email"`
		PrivateKey     string `json:"private_key"`
		TokenURI       string `json:"token_uri"`
		RefreshToken   string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return googleKey{}, "want a Google service account key (JSON) or the path of its file; the JSON does not parse"
	}
	if !googleCredentialTypes[f.Type] {
		return googleKey{}, fmt.Sprintf("credentials of type %q are not supported; want a service_account key or gcloud's authorized_user credentials", f.Type)
	}
	switch {
	case f.Type == "service_account" && (f.ClientEmail == "" || f.PrivateKey == ""):
		return googleKey{}, "the service account key has no client_email or private_key"
	case f.Type == "authorized_user" && f.RefreshToken == "":
		return googleKey{}, "the authorized_user credentials have no refresh_token"
	}
	if f.TokenURI != "" {
		if u, err := url.Parse(f.TokenURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return googleKey{}, "the token_uri of the credentials is not an absolute http(s) URL"
		}
	}
	project := f.ProjectID
	if project == "" {
		project = f.QuotaProjectID
	}
	return googleKey{json: string(data), project: project}, ""
}

// apiBase parses an api_base, which must be an absolute http(s) URL.
func (p *parser) apiBase(path string, lp liteLLMParams) *url.URL {
	u, err := url.Parse(lp.base)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return u
	}
	got := lp.base
	if err == nil {
		got = u.Redacted()
	}
	if lp.baseEnv != "" {
		p.errorf(lp.baseLine, path, "want an absolute http(s) URL in environment variable %s", lp.baseEnv)
	} else {
		p.errorf(lp.baseLine, path, "want an absolute http(s) URL, got %q", got)
	}
	return nil
}

// modelInfo reads model_info: kept as written for /model/info, and its id, if
// any, names the deployment.
func (p *parser) modelInfo(path string, v *value, d *Deployment, o *origin) {
	if v.isNull() {
		return
	}
	if v.kind != kindDict {
		p.errorf(v.line, path, "want a mapping, got %s", v.kind)
		return
	}
	d.Info = toGo(v).(map[string]any)
	if m := v.get("max_input_tokens"); !m.isNull() {
		p.countInto(joinPath(path, "max_input_tokens"), m, &d.MaxInputTokens)
	}
	id := v.get("id")
	switch {
	case id.isNull():
	case !id.isScalar():
		p.errorf(id.line, joinPath(path, "id"), "want a string, got %s", id.kind)
	case id.kind == kindStr:
		if s, _, ok := p.str(joinPath(path, "id"), id); ok && s != "" {
			d.ID, o.line, o.explicit = s, id.line, true
		}
	default:
		// LiteLLM's ModelInfo turns an int id into str(id).
		d.ID, o.line, o.explicit = pyStr(id), id.line, true
	}
}

// warnWildcard flags a wildcard in litellm_params.model under a model_name
// without one: only a pattern model_name (LiteLLM's wildcard routing, "*",
// "openai/*") fills the model's "*" with the requested name, so the
// provider would be asked for the model "*" itself.
func (p *parser) warnWildcard(path string, v *value, lp liteLLMParams) {
	name := v.get("model_name")
	if strings.Contains(lp.model, "*") && name != nil && name.kind == kindStr && !strings.Contains(name.s, "*") {
		p.warnf(lp.modelLine, joinPath(path, "litellm_params.model"), "a wildcard model under model_name %q, which has none: the provider is asked for %q as it is", name.s, lp.model)
	}
}

// toGo converts a value to plain Go values for JSON output. Non-finite
// floats become strings so the result always marshals.
func toGo(v *value) any {
	switch v.kind {
	case kindBool:
		return v.b
	case kindInt:
		if v.i.IsInt64() {
			return v.i.Int64()
		}
		return v.i.String()
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return pyFloat(v.f)
		}
		return v.f
	case kindStr:
		return v.s
	case kindList:
		out := make([]any, len(v.items))
		for i, item := range v.items {
			out[i] = toGo(item)
		}
		return out
	case kindDict:
		out := make(map[string]any, len(v.pairs))
		for _, p := range v.pairs {
			out[pyStr(p.key)] = toGo(p.val)
		}
		return out
	}
	return nil
}
