// Passkeys for the staff pages: registration (join, add) and sign-in (sign in, confirm).
// The server sends WebAuthn's options as JSON (base64url for binary fields); this
// script turns them into what navigator.credentials expects and posts the answer back.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var errorBox = document.getElementById("passkey-error");

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) { throw new Error(answer.error_description || response.statusText); }
        return answer;
      });
    });
  }
  function show(error) {
    errorBox.textContent = error && error.name === "NotAllowedError" ? errorBox.dataset.cancelled || error.message : error.message;
    errorBox.hidden = false;
  }
  function credentialJSON(credential) {
    var response = credential.response, json = {
      id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toB64url(response.attestationObject);
      if (response.getTransports) { json.response.transports = response.getTransports(); }
    } else {
      json.response.authenticatorData = toB64url(response.authenticatorData);
      json.response.signature = toB64url(response.signature);
      if (response.userHandle) { json.response.userHandle = toB64url(response.userHandle); }
    }
    return json;
  }

  // Sign in (or confirm it is you) with any passkey of this site.
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    signIn.addEventListener("click", function () {
      errorBox.hidden = true;
      signIn.disabled = true;
      post(signIn.dataset.options).then(function (options) {
        var publicKey = options.publicKey;
        publicKey.challenge = toBytes(publicKey.challenge);
        (publicKey.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
        return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
          return post(signIn.dataset.finish, {
            challenge_id: options.challenge_id, credential: credentialJSON(credential), next: signIn.dataset.next
          });
        });
      }).then(function (answer) { window.location.assign(answer.next); })
        .catch(function (error) { signIn.disabled = false; show(error); });
    });
  }

  // Create a passkey: joining with an invitation, or adding one in Security.
  ["join", "add-passkey"].forEach(function (formId) {
    var form = document.getElementById(formId);
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      post(form.dataset.options).then(function (options) {
        var publicKey = options.publicKey;
        publicKey.challenge = toBytes(publicKey.challenge);
        publicKey.user.id = toBytes(publicKey.user.id);
        (publicKey.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
        return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
          var body = { challenge_id: options.challenge_id, credential: credentialJSON(credential) };
          if (form.elements.name) { body.name = form.elements.name.value; }
          if (form.elements.passkey_name) { body.passkey_name = form.elements.passkey_name.value; }
          return post(form.dataset.finish, body);
        });
      }).then(function (answer) { window.location.assign(answer.next); })
        .catch(function (error) { button.disabled = false; show(error); });
    });
  });
})();
