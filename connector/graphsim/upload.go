package graphsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBody is Graph's request size limit (4 MB).
const maxBody = 4 << 20

const (
	typePKCS12 = "#microsoft.graph.pkcs12Certificate"
	typeBasic  = "#microsoft.graph.basicAuthentication"
)

// uploadBody is the uploadClientCertificate action's parameters.
type uploadBody struct {
	PKCS12Value *string `json:"pkcs12Value"`
	Password    *string `json:"password"`
}

// patchBody is the part of identityApiConnector a PATCH may change.
type patchBody struct {
	DisplayName    *string     `json:"displayName"`
	TargetURL      *string     `json:"targetUrl"`
	Authentication *authConfig `json:"authenticationConfiguration"`
}

type authConfig struct {
	ODataType   string  `json:"@odata.type"`
	PKCS12Value *string `json:"pkcs12Value"`
	Password    *string `json:"password"`
	Username    *string `json:"username"`
}

// uploadCertificate appends the PFX's leaf to the list, even when its
// thumbprint is already there, and answers 200 with the connector itself.
func (s *Server) uploadCertificate(x *exchange, t *tenant, id, context string) {
	c := s.findConnector(x, t, id)
	if c == nil {
		return
	}
	var body uploadBody
	if !x.readJSON(&body, uploadAction) {
		return
	}
	if !x.requireParams(uploadAction, body.PKCS12Value, "pkcs12Value", body.Password, "password") {
		return
	}
	cert, rej := s.decodeUploadCached(*body.PKCS12Value, *body.Password)
	if rej != nil {
		x.rejected(rej)
		return
	}
	s.mu.Lock()
	c.certs = append(c.certs, cert)
	c.uploads = append(c.uploads, cert.Thumbprint)
	e := c.entity(context, x.now)
	s.mu.Unlock()
	x.rec.Thumbprint = cert.Thumbprint
	x.writeJSON(http.StatusOK, entityContentType, e)
}

// patchConnector updates displayName, targetUrl and authenticationConfiguration.
// A pkcs12Certificate replaces the whole certificate list with its one
// certificate; basicAuthentication drops the list. It answers 204.
func (s *Server) patchConnector(x *exchange, t *tenant, id string) {
	c := s.findConnector(x, t, id)
	if c == nil {
		return
	}
	var body patchBody
	if !x.readJSON(&body, "") {
		return
	}
	update, ok := x.authUpdate(body.Authentication)
	if !ok {
		return
	}
	s.mu.Lock()
	if body.DisplayName != nil {
		c.displayName = *body.DisplayName
	}
	if body.TargetURL != nil {
		c.targetURL = *body.TargetURL
	}
	if update != nil {
		update(c)
	}
	s.mu.Unlock()
	x.w.WriteHeader(http.StatusNoContent)
}

// authUpdate validates a PATCHed authenticationConfiguration and returns the
// change to apply (nil for none); it answers the error itself.
func (x *exchange) authUpdate(a *authConfig) (func(*connector), bool) {
	if a == nil {
		return nil, true
	}
	switch a.ODataType {
	case typePKCS12:
		if missing := missingParams(a.PKCS12Value, "pkcs12Value", a.Password, "password"); missing != "" {
			x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("The property '%s' is required for type '%s'.", missing, typePKCS12), codeInvalidRequest)
			return nil, false
		}
		cert, rej := decodeUpload(*a.PKCS12Value, *a.Password)
		if rej != nil {
			x.rejected(rej)
			return nil, false
		}
		return func(c *connector) { c.certs = []Cert{cert} }, true
	case typeBasic:
		if missing := missingParams(a.Username, "username", a.Password, "password"); missing != "" {
			x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("The property '%s' is required for type '%s'.", missing, typeBasic), codeInvalidRequest)
			return nil, false
		}
		// The password is write-only in Graph ("******" on reads); the
		// emulator does not keep it.
		user := *a.Username
		return func(c *connector) { c.certs, c.username = nil, user }, true
	}
	x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
		"Unsupported authenticationConfiguration type '%s'; use '%s' or '%s'.", a.ODataType, typePKCS12, typeBasic), codeInvalidRequest)
	return nil, false
}

func missingParams(a *string, aName string, b *string, bName string) string {
	switch {
	case a == nil:
		return aName
	case b == nil:
		return bName
	}
	return ""
}

// requireParams answers Graph's 400 for an action's missing parameter
// and reports whether both were given.
func (x *exchange) requireParams(operation string, a *string, aName string, b *string, bName string) bool {
	missing := missingParams(a, aName, b, bName)
	if missing != "" {
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("The parameter '%s' is required for the operation '%s'.", missing, operation), codeInvalidRequest)
	}
	return missing == ""
}

// rejected answers a bad PFX as B2C does: 400 with its AADB2C code.
func (x *exchange) rejected(rej *pfxRejection) {
	x.graphError(http.StatusBadRequest, rej.code, rej.message, "")
}

// readJSON checks the Content-Type and strictly decodes the body into v,
// answering 415 or 400 itself. Error messages never quote the body: it holds
// PFX bytes and passwords.
func (x *exchange) readJSON(v any, operation string) bool {
	mt, _, err := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		x.graphError(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"The content type of the request is not supported; send application/json.", "")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(x.w, x.r.Body, maxBody))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("trailing data")
	}
	if err == nil {
		return true
	}
	if field, ok := unknownField(err); ok && operation != "" {
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", field, operation), "")
	} else if ok {
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"Invalid property '%s' in the request payload for type 'microsoft.graph.identityApiConnector'.", field), "")
	} else {
		x.graphError(http.StatusBadRequest, codeBadRequest, "Unable to read the JSON request payload.", codeInvalidRequest)
	}
	return false
}

// unknownField extracts the name from encoding/json's `json: unknown field "x"`.
func unknownField(err error) (string, bool) {
	name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`)
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(name, `"`), true
}
