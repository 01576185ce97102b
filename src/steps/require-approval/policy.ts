import type { OneClickForm } from '../../domain/step-type.ts';
import type { Json, JsonObject } from '../../domain/types.ts';

/*
 * A RequireApproval step's rules for one decision (CommentRequired, ReasonCodes), in one place so
 * that checkSignal (which enforces them) and the one-click form (which asks for them) agree.
 */

export const COMMENT_RULES = { Never: 'Never', OnDeny: 'OnDeny', Always: 'Always' };
export type CommentRule = keyof typeof COMMENT_RULES;

/** The step's CommentRequired ('Never' when unset or unknown; validation refuses unknown values). */
export function commentRule(config: JsonObject): CommentRule {
  const v = config.CommentRequired;
  const t = typeof v === 'string' ? v.trim() : '';
  return Object.hasOwn(COMMENT_RULES, t) ? (t as CommentRule) : 'Never';
}

/** Whether a decision (approve or deny) needs a non-blank comment at this step. */
export const commentRequired = (config: JsonObject, approved: boolean): boolean => {
  const rule = commentRule(config);
  return rule === 'Always' || (rule === 'OnDeny' && !approved);
};

/** The step's ReasonCodes, trimmed, blanks left out. */
export function reasonCodes(config: JsonObject): string[] {
  return stringList(config.ReasonCodes);
}

export function stringList(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim()) : [];
}

/**
 * What the one-click confirmation form asks for an approval or a denial: the comment, required
 * when CommentRequired says so; for a denial at a step with ReasonCodes, a required ReasonCode
 * chosen from them (an approval may carry one through the API, the page offers none).
 */
export function decisionForm(approved: boolean, config: JsonObject): OneClickForm {
  const codes = approved ? [] : reasonCodes(config);
  return {
    comment: commentRequired(config, approved) ? 'required' : 'optional',
    choices: codes.length ? [{ field: 'ReasonCode', label: 'Reason code', options: codes, required: true }] : [],
  };
}
