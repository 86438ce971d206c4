// Starts Swagger UI on /docs.  A file, not an inline script, so the page needs no CSP exception.
// URLs are relative to the page, so the docs work behind a proxy that mounts pinrace under a prefix.
window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // never send the schema to an outside validator
  presets: [SwaggerUIBundle.presets.apis],
});
