#!/usr/bin/env bash
# Posts an AdmissionReview to a running webhook and prints the response with
# the base64 patch decoded.  Usage: try-mutate.sh URL REVIEW.json [CA]
set -euo pipefail
url=${1:-https://localhost:8443/mutate}
review=${2:-examples/admission-review.json}
ca=${3:-certs/ca.crt}
curl -sS --fail-with-body --cacert "$ca" -H 'Content-Type: application/json' --data-binary "@$review" "$url" |
  node -e '
    let body = "";
    process.stdin.on("data", (d) => (body += d)).on("end", () => {
      const review = JSON.parse(body);
      const r = review.response ?? {};
      if (r.patch) r.patch = JSON.parse(Buffer.from(r.patch, "base64").toString());
      console.log(JSON.stringify(review, null, 2));
    });'
