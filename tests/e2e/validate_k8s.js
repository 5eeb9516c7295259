#!/usr/bin/env node
// Validate Kubernetes objects against the API schemas of the npm package
// kubernetes-models.  Reads a JSON array of objects on stdin (the YAML is
// converted by the caller); prints one line per object; exit 0 all valid,
// 1 an object is invalid, 2 kubernetes-models not found.  Looked up on
// NODE_PATH, then in $BUILD/node_modules
// (npm install --prefix "$BUILD" kubernetes-models).
"use strict";
const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

function modelPath(apiVersion, kind) {
	const group = apiVersion.includes("/") ? apiVersion : "v1";
	const rel = `kubernetes-models/${group}/${kind}.js`;
	const roots = [];
	if (process.env.BUILD)
		roots.push(path.resolve(process.env.BUILD, "node_modules"));
	for (const p of (process.env.NODE_PATH || "").split(path.delimiter))
		if (p)
			roots.push(p);
	for (const r of roots) {
		const f = path.join(r, rel);
		if (fs.existsSync(f))
			return f;
	}
	return null;
}

async function main() {
	const docs = JSON.parse(fs.readFileSync(0, "utf8"));
	let bad = 0;
	for (const d of docs) {
		const f = modelPath(d.apiVersion, d.kind);
		if (!f) {
			console.error(`validate_k8s: kubernetes-models has no ${d.apiVersion} ${d.kind} here`);
			process.exit(2);
		}
		const mod = await import(pathToFileURL(f).href);
		const Model = mod[d.kind] || mod.default;
		try {
			new Model(d).validate();
			console.log(`valid: ${d.kind} ${d.metadata && d.metadata.name}`);
		} catch (e) {
			bad++;
			console.log(`invalid: ${d.kind} ${d.metadata && d.metadata.name}: ${e.message}`);
		}
	}
	process.exit(bad ? 1 : 0);
}
main();
