import { expect } from 'chai';
import { SyncflowError } from '../../core/errors.ts';
import { statusFromError } from './status.ts';

describe('Kubernetes Status from the error catalogue', () => {
  it('gives each field cause the Kubernetes CauseType as reason and the suggestion in its message', () => {
    const error = new SyncflowError('InvalidInput', 'invalid', {
      causes: [
        {
          code: 'TaskNotFound',
          field: 'spec.workflowRef.name',
          message: 'not found',
          suggestion: 'did you mean `b`?',
        },
        { code: 'FieldRequired', field: 'spec', message: 'is required' },
      ],
    });
    expect(statusFromError(error, { kind: 'WorkflowExecution', name: 'x' }).details?.causes).to.deep.equal([
      {
        reason: 'FieldValueNotFound',
        field: 'spec.workflowRef.name',
        message: 'not found (did you mean `b`?)',
      },
      { reason: 'FieldValueRequired', field: 'spec', message: 'is required' },
    ]);
  });

  it('hides the message of an error outside the catalogue behind a 500', () => {
    const status = statusFromError(new Error('secret detail'));
    expect(status).to.include({ code: 500, reason: 'InternalError' });
    expect(status.message).not.to.contain('secret');
  });
});
