// Seals values with @linode/kubeseal-encrypt, an independent implementation of the Sealed
// Secrets format, for plumbline's interoperability test (src/secrets/kubeseal_interop_test.cc).
//
//   node kubeseal_encrypt.cjs CERT.pem < {"namespace": NS, "name": NAME, "values": {K: V}}
//   -> {"namespace-wide": {K: sealed}, "strict": {K: sealed}}
//
// The certificate is the operator's (plumb keys export-public); its public key is taken out
// with Node's own X.509 parser. "namespace-wide" goes through the package's public API,
// whose label is the namespace. Its API refuses a "NS/NAME" label (validateNamespace), so
// "strict" calls the same package code one level down: its NodeCrypto adapter's
// hybridEncrypt, with the strict label.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const nodeCrypto = require('node:crypto');
const Module = require('node:module');

// Node 18 (Debian 12) has WebCrypto only as crypto.webcrypto.
if (!globalThis.crypto) globalThis.crypto = nodeCrypto.webcrypto;

const main = require.resolve('@linode/kubeseal-encrypt');  // throws when not installed
const kse = require(main);

function internalAdapter() {
  const src = fs.readFileSync(main, 'utf8') +
      '\nmodule.exports.__NodeCrypto = (init_node(), NodeCrypto);\n';
  const m = new Module(main, module);
  m.filename = main;
  m.paths = Module._nodeModulePaths(path.dirname(main));
  m._compile(src, main);
  return new m.exports.__NodeCrypto();
}

async function run() {
  const cert = fs.readFileSync(process.argv[2], 'utf8');
  const spki = new nodeCrypto.X509Certificate(cert).publicKey.export({type: 'spki', format: 'pem'});
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const adapter = internalAdapter();
  const pub = await adapter.importPublicKey(spki);
  const out = {'namespace-wide': {}, 'strict': {}};
  for (const [k, v] of Object.entries(input.values)) {
    out['namespace-wide'][k] = await kse.encryptSecretItem(spki, input.namespace, v);
    out['strict'][k] = await adapter.hybridEncrypt(pub, v, `${input.namespace}/${input.name}`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

run().catch((e) => {
  process.stderr.write(`kubeseal_encrypt.cjs: ${e.stack || e}\n`);
  process.exit(1);
});
