package translate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
)

// A multipart/form-data request (OpenAI's audio transcriptions) names its
// model in a form field among the file's bytes. The gateway holds the whole
// body already (it is bounded there), so the form is read from memory, part
// by part, keeping only the model.

// maxFormModel bounds the model field: a model name is short, and a longer
// field is not one.
const maxFormModel = 1 << 10

// maxFormParts bounds the parts read: OpenAI's form has a dozen fields, and
// a body of a million empty parts must not cost a million iterations.
const maxFormParts = 1000

// ErrNoFormModel: the form has no "model" field.
var ErrNoFormModel = errors.New(`the form has no "model" field`)

// FormModel returns the "model" field of a multipart/form-data body whose
// Content-Type header is contentType. Two model fields are refused: form
// parsers differ on which one wins, and the one llmvoy routes by must be
// the one the deployment reads.
func FormModel(contentType string, body []byte) (string, error) {
	r, err := formReader(contentType, body)
	if err != nil {
		return "", err
	}
	model, found := "", false
	for range maxFormParts {
		p, err := r.NextRawPart()
		if err == io.EOF {
			if !found {
				return "", ErrNoFormModel
			}
			return model, nil
		}
		if err != nil {
			return "", fmt.Errorf("malformed multipart body: %w", err)
		}
		if p.FormName() != "model" || p.FileName() != "" {
			continue
		}
		if found {
			return "", errors.New(`the form has two "model" fields`)
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFormModel+1))
		if err != nil {
			return "", fmt.Errorf("malformed multipart body: %w", err)
		}
		if len(v) > maxFormModel {
			return "", fmt.Errorf("the form's model field is longer than %d bytes", maxFormModel)
		}
		model, found = string(v), true
	}
	return "", fmt.Errorf("the form has more than %d parts", maxFormParts)
}

// SetFormModel returns the form with every "model" field set to model
// (every one: a server might read any of duplicates), each other part as it
// was, under the same boundary so the Content-Type header stays right; nil
// when the body already names model once.
func SetFormModel(contentType string, body []byte, model string) ([]byte, error) {
	if strings.ContainsAny(model, "\r\n") {
		// It could end the part and start another.
		return nil, fmt.Errorf("model %q has a line break", model)
	}
	r, err := formReader(contentType, body)
	if err != nil {
		return nil, err
	}
	_, params, _ := mime.ParseMediaType(contentType)
	var out bytes.Buffer
	out.Grow(len(body) + len(model))
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(params["boundary"]); err != nil {
		return nil, fmt.Errorf("multipart boundary: %w", err)
	}
	models, changed := 0, false
	for n := 0; ; n++ {
		if n == maxFormParts {
			return nil, fmt.Errorf("the form has more than %d parts", maxFormParts)
		}
		// Raw: NextPart would decode a quoted-printable part and drop its
		// header, changing a part that is not the model.
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed multipart body: %w", err)
		}
		pw, err := w.CreatePart(p.Header)
		if err != nil {
			return nil, err
		}
		if p.FormName() != "model" || p.FileName() != "" {
			// Copied, not read whole first: the file is most of the body.
			if _, err := io.Copy(pw, p); err != nil {
				return nil, fmt.Errorf("malformed multipart body: %w", err)
			}
			continue
		}
		models++
		old, err := io.ReadAll(io.LimitReader(p, maxFormModel+1))
		if err != nil {
			return nil, fmt.Errorf("malformed multipart body: %w", err)
		}
		changed = changed || string(old) != model
		io.WriteString(pw, model)
	}
	if models == 0 {
		return nil, ErrNoFormModel
	}
	if !changed && models == 1 {
		return nil, nil
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// formReader reads a multipart/form-data body of the given content type.
func formReader(contentType string, body []byte) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("content-type %q: %w", contentType, err)
	}
	if !strings.EqualFold(mt, "multipart/form-data") {
		return nil, fmt.Errorf("content-type is %q: this endpoint takes multipart/form-data", mt)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, errors.New("multipart/form-data content-type without a boundary")
	}
	return multipart.NewReader(bytes.NewReader(body), boundary), nil
}
