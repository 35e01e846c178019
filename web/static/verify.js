// The receipt page's proof, checked again in the voter's own browser with WebCrypto:
// the leaf hash from the election, receipt and commitment; the audit path up to the
// checkpoint's root (RFC 9162, 2.1.3.2); and, where the browser has Ed25519, the
// checkpoint's signature with the public key shown on the page. The same checks as
// election.domain.proofs.verify_proof_document, and one the server cannot make for the
// voter: that the proof is of the election and receipt this page's own address asks for
// (a genuine proof of another ballot would otherwise pass). This file and the key come
// from the same server: the check catches a wrong proof only for a voter who trusts this
// script and compares the key with one from elsewhere (`election verify` offline is the
// check that needs no trust in the server).
"use strict";
(function () {
  const encoder = new TextEncoder();

  const hex = (text) => {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) throw new Error("not hex");
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.substr(2 * i, 2), 16);
    return bytes;
  };
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  };
  const field = (bytes) => {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length);
    return concat(length, bytes);
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const leafHash = (data) => sha256(concat(new Uint8Array([0]), data));
  const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

  async function inclusionRoot(leaf, index, size, path) {
    // Numbers stay exact up to 2^53 leaves; BigInt keeps the shifts honest beyond 32 bits.
    let node = leaf;
    let nodeIndex = BigInt(index);
    let last = BigInt(size) - 1n;
    if (nodeIndex > last) return null;
    for (const sibling of path) {
      if (last === 0n) return null;
      if (nodeIndex & 1n || nodeIndex === last) {
        node = await nodeHash(sibling, node);
        while (!(nodeIndex & 1n) && nodeIndex !== 0n) {
          nodeIndex >>= 1n;
          last >>= 1n;
        }
      } else {
        node = await nodeHash(node, sibling);
      }
      nodeIndex >>= 1n;
      last >>= 1n;
    }
    return last === 0n ? node : null;
  }

  async function signatureProblem(checkpoint, publicKey) {
    if (typeof publicKey !== "string" || !publicKey.startsWith("ed25519:")) {
      return "no public key to check the checkpoint's signature with";
    }
    const raw = Uint8Array.from(atob(publicKey.slice(8)), (c) => c.charCodeAt(0));
    const body =
      ["election-log-v1", checkpoint.election_id, checkpoint.size, checkpoint.root,
       checkpoint.timestamp_ms].map((line) => line + "\n").join("");
    const signed = concat(encoder.encode("election-ed25519-v1\0checkpoint\0"), encoder.encode(body));
    let key;
    try {
      key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      return null; // this browser has no Ed25519: the hashes were still checked
    }
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, hex(checkpoint.signature), signed);
    return ok ? undefined : "the checkpoint's signature does not verify with this public key";
  }

  // What this page was asked, read from its own address (which the server cannot
  // change): the election of its path and the receipt of its query, each in the one
  // form the proof must hold (election.domain.votes.canonical_id, receipts.parse_receipt).
  function asked(location) {
    const path = /^\/elections\/([^/]+)\/receipt$/.exec(location.pathname);
    const typed = new URLSearchParams(location.search).get("receipt");
    if (!path || typed === null) return null;
    let election;
    try {
      election = decodeURIComponent(path[1]);
    } catch (error) {
      return null; // a malformed address names no election
    }
    if (/^[0-9]+$/.test(election)) election = BigInt(election).toString();
    const receipt = typed.replace(/[\s\-\u2010-\u2015\u2212]+/g, "").toUpperCase()
      .replace(/[IL]/g, "1").replace(/O/g, "0");
    return { election, receipt };
  }

  // Everything wrong with the proof, in words (empty: proved), and whether the
  // signature was checked too. With ``expected`` (``asked``'s), the proof must also be of
  // that election and receipt: a genuine proof of another voter's receipt proves nothing
  // about this one.
  async function verifyProof(proof, publicKey, expected) {
    const problems = [];
    const checkpoint = proof.checkpoint;
    if (expected && proof.election_id !== expected.election) {
      problems.push("the proof is of another election than this page's");
    }
    if (expected && String(proof.receipt).replace(/-/g, "") !== expected.receipt) {
      problems.push("the proof is of another receipt than the one asked for");
    }
    if (checkpoint.election_id !== proof.election_id) problems.push("the checkpoint is of another election");
    if (proof.tree_size !== checkpoint.size) problems.push("the proof's tree size is not the checkpoint's");
    const data = concat(
      encoder.encode("election-leaf-v1\0"),
      field(encoder.encode(proof.election_id)),
      field(encoder.encode(proof.receipt)),
      field(hex(proof.commitment)),
    );
    const leaf = await leafHash(data);
    if (!same(leaf, hex(proof.leaf_hash))) {
      problems.push("the leaf hash is not that of this election, receipt and commitment");
    }
    const root = await inclusionRoot(leaf, proof.leaf_index, checkpoint.size, proof.audit_path.map(hex));
    if (root === null || !same(root, hex(checkpoint.root))) {
      problems.push("the audit path does not lead from the leaf to the checkpoint's root");
    }
    const signature = await signatureProblem(checkpoint, publicKey);
    if (signature) problems.push(signature);
    return { problems, signatureChecked: signature === undefined };
  }

  window.electionVerify = { verifyProof, asked };

  const target = document.getElementById("browser-check");
  if (!target) return;
  if (!window.crypto || !crypto.subtle) {
    target.textContent = "This browser cannot check the proof (no WebCrypto on this connection).";
    return;
  }
  const { proof, public_key: publicKey } = JSON.parse(target.dataset.proof);
  const expected = asked(window.location) || { election: null, receipt: null };
  verifyProof(proof, publicKey, expected)
    .then(({ problems, signatureChecked }) => {
      target.className = problems.length ? "bad" : "ok";
      target.dataset.result = problems.length ? "failed" : "proved";
      target.textContent = problems.length
        ? "Not proved in this browser: " + problems.join("; ")
        : "Proved in this browser: receipt " + proof.receipt + "'s leaf leads to the checkpoint's root" +
          (signatureChecked ? ", and the checkpoint's signature verifies." : " (this browser cannot check Ed25519 signatures).");
    })
    .catch((error) => {
      target.className = "bad";
      target.dataset.result = "failed";
      target.textContent = "Not proved in this browser: " + error.message;
    });
})();
