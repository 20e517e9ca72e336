"""Deployment tooling (checkout only, like tools/): the Dagster Helm release's values and checks, the post-deploy
verification. The files it reads are deploy/helm/values.yaml and deploy/dagster.yaml."""
