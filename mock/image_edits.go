package mock

import (
	"net/http"
	"strconv"
)

// imageEdits answers OpenAI's POST /v1/images/edits: a multipart/form-data
// request with one image ("image") or several ("image[]", gpt-image
// models), a prompt, and optionally a mask, model (dall-e-2 by default), n
// and response_format; the answer is the images endpoints' (writeImages).
// The x-mock-* headers apply.
func (s *Server) imageEdits(w http.ResponseWriter, r *http.Request, body []byte, opts *Options) {
	form := readForm(w, r, body)
	if form == nil {
		return
	}
	defer form.RemoveAll()
	if len(form.File["image"])+len(form.File["image[]"]) == 0 {
		writeError(w, missingParam("image"))
		return
	}
	prompt := first(form.Value["prompt"])
	if prompt == "" {
		writeError(w, missingParam("prompt"))
		return
	}
	model := first(form.Value["model"])
	if model == "" {
		model = "dall-e-2"
	}
	n := 1
	if v := first(form.Value["n"]); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 10 {
			writeError(w, invalidRequest("Invalid 'n': expected an integer from 1 to 10.", "n", "invalid_value"))
			return
		}
	}
	s.answerImages(w, r, opts, model, prompt, first(form.Value["response_format"]), n)
}
