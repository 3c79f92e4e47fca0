// Reference 2, the floor of necessary work: read the body, JSON.parse it, and
// answer with a fixed JSON patch (the injector's own base64 patch for the
// benchmark review) in an AdmissionReview that echoes the request uid.
import { referenceOptions, serve } from './reference-common.mjs';

const options = referenceOptions();
const { patchType, patch } = options.response.response;

serve('minimal', options, (req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    chunks.push(chunk);
    size += chunk.length;
  });
  req.on('end', () => {
    let uid;
    try {
      uid = JSON.parse(Buffer.concat(chunks, size).toString('utf8')).request.uid;
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad AdmissionReview\n');
      return;
    }
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true, patchType, patch },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
