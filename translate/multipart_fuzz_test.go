package translate

import (
	"bytes"
	"testing"
)

// FuzzFormModel checks the multipart reader on any body and content type:
// it never panics or leaves the body changed, a model it reads is at most
// maxFormModel bytes, and a form it rewrites reads back with the new model
// (or was left alone because it had it already).
func FuzzFormModel(f *testing.F) {
	seed := func(fields [][2]string, file []byte) {
		body, ct := form(f, fields, file)
		f.Add(ct, body, "whisper-1")
	}
	seed([][2]string{{"model", "whisper"}}, []byte("RIFF audio"))
	seed([][2]string{{"language", "en"}, {"model", "gpt-4o-transcribe"}, {"response_format", "verbose_json"}}, []byte{0, 0xff, '\r', '\n', '-', '-'})
	seed([][2]string{{"model", "a"}, {"model", "b"}}, nil)
	seed([][2]string{{"prompt", "no model"}}, []byte("x"))
	f.Add(testCT, []byte("--"+testBoundary+"\r\nContent-Disposition: form-data; name=\"model\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nwhis=\r\nper\r\n--"+testBoundary+"--\r\n"), "m")
	f.Add(testCT, []byte("preamble\r\n--"+testBoundary+"\r\nContent-Disposition: form-data; name=model\r\n\r\nx\r\n--"+testBoundary+"--"), "y")
	f.Add("multipart/form-data; boundary=\"a b\"", []byte("--a b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nx\r\n--a b--\r\n"), "z")
	f.Add("application/json", []byte(`{"model":"x"}`), "y")
	// An image edit's: several image[] files, a mask, the model last.
	edit := "--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"image[]\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n" +
		"--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"image[]\"; filename=\"model\"\r\n\r\n\x89PNG--\r\n" +
		"--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"mask\"; filename=\"m.png\"\r\n\r\n\x00\xff\r\n" +
		"--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nadd a hat\r\n" +
		"--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nedit\r\n--" + testBoundary + "--\r\n"
	f.Add(testCT, []byte(edit), "gpt-image-1")
	f.Fuzz(func(t *testing.T, contentType string, body []byte, model string) {
		orig := bytes.Clone(body)
		got, err := FormModel(contentType, body)
		if err != nil {
			if got != "" {
				t.Fatalf("a model with an error")
			}
			return
		}
		if len(got) > maxFormModel {
			t.Fatalf("model of %d bytes", len(got))
		}
		out, err := SetFormModel(contentType, body, model)
		if !bytes.Equal(orig, body) {
			t.Fatalf("the client's body was modified")
		}
		if err != nil || len(model) > maxFormModel {
			return // a boundary multipart.Writer refuses, or a model too long to read back
		}
		if out == nil {
			if got != model {
				t.Fatalf("left %q for %q", got, model)
			}
			return
		}
		back, err := FormModel(contentType, out)
		if err != nil || back != model {
			t.Fatalf("rewritten form reads back %q, %v; want %q", back, err, model)
		}
	})
}
