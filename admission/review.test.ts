import { expect } from 'chai';
import { ERROR_CATALOGUE, type ErrorCode } from '../core/errors.ts';
import { admissionResponse, allow, deny, parseAdmissionReview, warningText } from './review.ts';
import { profile, review } from './testdata/definitions.ts';

describe('AdmissionReview boundary', () => {
  describe('parseAdmissionReview', () => {
    const cases: Array<{ name: string; body: unknown; error: RegExp }> = [
      { name: 'a non-object', body: 'x', error: /must be an admission\.k8s\.io\/v1 AdmissionReview/ },
      {
        name: 'a v1beta1 review',
        body: { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview' },
        error: /admissionReviewVersions: \[v1\]/,
      },
      {
        name: 'no request',
        body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
        error: /^request: is required$/,
      },
      {
        name: 'no uid',
        body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} },
        error: /^request\.uid: is required$/,
      },
      {
        name: 'an unknown operation',
        body: {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u', operation: 'PATCH' },
        },
        error: /request\.operation: must be one of CREATE, UPDATE, DELETE, CONNECT/,
      },
    ];
    for (const c of cases) {
      it(`names what is wrong with ${c.name}`, () => {
        const parsed = parseAdmissionReview(c.body);
        expect(parsed).to.have.property('error').that.matches(c.error);
      });
    }

    it('reads kind, operation, namespace, name and dryRun', () => {
      const parsed = parseAdmissionReview(review('Workflow', 'CREATE', { object: profile(), dryRun: true }));
      expect(parsed).to.include({
        uid: 'b3f1c9e2-0000-4000-8000-000000000001',
        kind: 'Workflow',
        operation: 'CREATE',
        namespace: 'shop',
        name: 'profile',
        dryRun: true,
      });
    });

    it('takes the name from the object when the request has none, and gives every object metadata', () => {
      const body = review('Workflow', 'CREATE', { object: profile() }) as {
        request: Record<string, unknown>;
      };
      delete body.request.name;
      delete body.request.namespace;
      body.request.oldObject = { spec: {} };
      const parsed = parseAdmissionReview(body);
      if ('error' in parsed) throw new Error(parsed.error);
      expect(parsed.name).to.equal('profile');
      expect(parsed.namespace).to.equal('default');
      expect(parsed.oldObject?.metadata).to.deep.equal({});
    });
  });

  describe('admissionResponse', () => {
    it('shortens warnings to what Kubernetes passes on whole', () => {
      const long = 'w '.repeat(200);
      const response = admissionResponse('u', allow([long, 'a\n  b']));
      expect(response.response.warnings?.[0]).to.have.length(256);
      expect(response.response.warnings?.[0]?.endsWith('…')).to.equal(true);
      expect(response.response.warnings?.[1]).to.equal('a b');
      expect(warningText('short')).to.equal('short');
    });

    it('describes a denial as a Status of the definitions group, suggestion and code in each cause', () => {
      const response = admissionResponse(
        'u',
        deny({
          code: 'TaskNotFound',
          message: 'm',
          kind: 'Workflow',
          name: 'p',
          causes: [
            {
              code: 'TaskNotFound',
              field: 'spec.tasks[0].taskRef.name',
              message: 'missing',
              suggestion: 'did you mean `a`?',
            },
          ],
        }),
      );
      expect(response.response.status).to.deep.equal({
        status: 'Failure',
        code: 422,
        reason: 'Invalid',
        message: 'm',
        details: {
          group: 'syncflow.io',
          kind: 'Workflow',
          name: 'p',
          causes: [
            {
              reason: 'FieldValueNotFound',
              field: 'spec.tasks[0].taskRef.name',
              message: 'missing (did you mean `a`?) [TaskNotFound]',
            },
          ],
        },
      });
    });
  });

  describe('denial causes', () => {
    /** apimachinery's metav1.CauseType values (k8s.io/apimachinery/pkg/apis/meta/v1/types.go). */
    const CAUSE_TYPES = [
      'FieldValueNotFound',
      'FieldValueRequired',
      'FieldValueDuplicate',
      'FieldValueInvalid',
      'FieldValueNotSupported',
      'FieldValueForbidden',
      'FieldValueTooLong',
      'FieldValueTooMany',
      'InternalError',
      'FieldValueTypeInvalid',
    ];
    const causeOf = (code: ErrorCode) =>
      admissionResponse(
        'u',
        deny({
          code,
          message: 'm',
          kind: 'Workflow',
          name: 'p',
          causes: [{ code, field: 'spec.x', message: 'bad' }],
        }),
      ).response.status?.details.causes[0];

    it('carry a Kubernetes CauseType as reason for every catalogue code, and the syncflow code in the message', () => {
      for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
        const cause = causeOf(code);
        expect(CAUSE_TYPES, code).to.include(cause?.reason);
        expect(cause?.message, code).to.equal(`bad [${code}]`);
      }
    });

    it('name the cause type the Kubernetes API uses for required, unknown, duplicate and missing-reference fields', () => {
      expect(causeOf('FieldRequired')?.reason).to.equal('FieldValueRequired');
      expect(causeOf('UnknownField')?.reason).to.equal('FieldValueNotSupported');
      expect(causeOf('DuplicateName')?.reason).to.equal('FieldValueDuplicate');
      expect(causeOf('TaskNotFound')?.reason).to.equal('FieldValueNotFound');
      expect(causeOf('TypeMismatch')?.reason).to.equal('FieldValueTypeInvalid');
      expect(causeOf('FieldInvalid')?.reason).to.equal('FieldValueInvalid');
    });
  });
});
