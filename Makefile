# Convenience targets; each is one npm script.
.PHONY: dev test generate lint
dev:
	npm run dev
test:
	npm test
generate:
	npm run generate
lint:
	npm run lint
