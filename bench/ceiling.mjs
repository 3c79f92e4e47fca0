// Reference 1, the ceiling: answers every request with one fixed
// AdmissionReview (the injector's answer to the benchmark review). The body is
// drained to keep the keep-alive connection usable, never parsed.
import { referenceOptions, serve } from './reference-common.mjs';

const options = referenceOptions();
const body = Buffer.from(JSON.stringify(options.response));
const headers = { 'content-type': 'application/json', 'content-length': body.length };

serve('ceiling', options, (req, res) => {
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
  req.resume();
});
