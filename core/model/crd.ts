/** Builds the CustomResourceDefinitions of the definitions group from the TypeBox model. */
import type { TSchema } from '@sinclair/typebox';
import { toStructural, type OpenApiSchema } from './openapi.ts';
import {
  DEFINITIONS_GROUP,
  VERSION,
  WORKFLOW_NAMES,
  WORKFLOW_TASK_NAMES,
  type KindNames,
} from './resources.ts';
import { WorkflowSpec, WorkflowStatus, WorkflowTaskSpec, WorkflowTaskStatus } from './schema.ts';

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
}

function crd(names: KindNames, spec: TSchema, status: TSchema, columns: PrinterColumn[]): OpenApiSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${DEFINITIONS_GROUP}` },
    spec: {
      group: DEFINITIONS_GROUP,
      scope: 'Namespaced',
      names: {
        kind: names.kind,
        listKind: names.listKind,
        plural: names.plural,
        singular: names.singular,
        shortNames: names.shortNames,
        categories: ['syncflow'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: spec.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructural(spec),
                status: toStructural(status),
              },
            },
          },
        },
      ],
    },
  };
}

/** The WorkflowTask CRD. */
export function workflowTaskCrd(): OpenApiSchema {
  return crd(WORKFLOW_TASK_NAMES, WorkflowTaskSpec, WorkflowTaskStatus, [
    { name: 'Method', type: 'string', jsonPath: '.spec.http.method' },
    { name: 'URL', type: 'string', jsonPath: '.spec.http.url', priority: 1 },
    { name: 'Used-By', type: 'integer', jsonPath: '.status.usedBy' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ]);
}

/** The Workflow CRD, with the READY, TASKS, REVISION and AGE columns kubectl shows. */
export function workflowCrd(): OpenApiSchema {
  return crd(WORKFLOW_NAMES, WorkflowSpec, WorkflowStatus, [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Tasks', type: 'integer', jsonPath: '.status.taskCount' },
    { name: 'Revision', type: 'string', jsonPath: '.status.revision' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ]);
}
