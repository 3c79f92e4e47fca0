// Setup file of the jest project e2e-oldest (jest.config.js): its files start
// the control plane of the oldest Kubernetes minor the chart claims.
process.env['E2E_KUBERNETES'] = 'oldest';
