/*
 * claims_eval.cpp: evaluating claim expressions per subscriber (see claims_eval.h).
 */
#include "claims_eval.h"
#include "subtransaction.h"

struct EvalState
{
	const PolicyTemplate *t;
	const SubscriptionUser *const *users;
	ClaimValues *out;
	MemoryContext result_cxt;
	ParamListInfo params;
	ExprContext *econtext;
	ExprState **states;
	int16	   *typlen;
	bool	   *typbyval;
	int			lo;				/* the range evaluate_range works on */
	int			hi;
};

static void
prepare(void *arg)
{
	EvalState  *s = (EvalState *) arg;
	const PolicyTemplate *t = s->t;

	s->params = makeParamList(CLAIM_NPARAMS);
	s->params->numParams = CLAIM_NPARAMS;
	s->econtext = CreateStandaloneExprContext();
	s->econtext->ecxt_param_list_info = s->params;
	s->states = (ExprState **) palloc(sizeof(ExprState *) * Max(t->nparams, 1));
	s->typlen = (int16 *) palloc(sizeof(int16) * Max(t->nparams, 1));
	s->typbyval = (bool *) palloc(sizeof(bool) * Max(t->nparams, 1));
	for (int k = 0; k < t->nparams; k++)
	{
		s->states[k] = ExecInitExprWithParams(t->params[k], s->params);
		get_typlenbyval(exprType((Node *) t->params[k]), &s->typlen[k], &s->typbyval[k]);
	}
}

static void
set_text_param(ParamListInfo params, int id, const std::string &value)
{
	ParamExternData *param = &params->params[id - 1];

	param->value = PointerGetDatum(cstring_to_text_with_len(value.data(), (int) value.size()));
	param->isnull = false;
	param->pflags = PARAM_FLAG_CONST;
	param->ptype = TEXTOID;
}

static void
evaluate_range(void *arg)
{
	EvalState  *s = (EvalState *) arg;

	for (int i = s->lo; i < s->hi; i++)
	{
		ClaimValues *out = &s->out[i];
		MemoryContext old = MemoryContextSwitchTo(s->econtext->ecxt_per_tuple_memory);

		set_text_param(s->params, CLAIM_PARAM_CLAIMS, s->users[i]->claims);
		set_text_param(s->params, CLAIM_PARAM_SUB, s->users[i]->claim_sub);
		set_text_param(s->params, CLAIM_PARAM_ROLE, s->users[i]->claim_role);
		for (int k = 0; k < s->t->nparams; k++)
		{
			Datum		value = ExecEvalExpr(s->states[k], s->econtext, &out->isnull[k]);

			MemoryContextSwitchTo(s->result_cxt);
			out->values[k] = out->isnull[k] ? (Datum) 0
				: datumCopy(value, s->typbyval[k], s->typlen[k]);
			MemoryContextSwitchTo(s->econtext->ecxt_per_tuple_memory);
		}
		MemoryContextSwitchTo(old);
		ResetExprContext(s->econtext);
	}
}

/* [lo, hi) in one subtransaction; on an error, each half again, down to the culprit. */
static void
evaluate(EvalState *s, int lo, int hi)
{
	const char *error;

	s->lo = lo;
	s->hi = hi;
	error = run_in_subtransaction(evaluate_range, s);
	if (error == NULL)
		return;
	if (hi - lo == 1)
	{
		s->out[lo].error = error;
		return;
	}
	evaluate(s, lo, lo + (hi - lo) / 2);
	evaluate(s, lo + (hi - lo) / 2, hi);
}

void
claims_evaluate(const PolicyTemplate *t, const SubscriptionUser *const *users, int n,
				ClaimValues *out)
{
	EvalState	s = {t, users, out, CurrentMemoryContext};
	const char *error;

	for (int i = 0; i < n; i++)
	{
		out[i].error = NULL;
		out[i].values = (Datum *) palloc0(sizeof(Datum) * Max(t->nparams, 1));
		out[i].isnull = (bool *) palloc0(sizeof(bool) * Max(t->nparams, 1));
	}
	if (t->nparams == 0 || n == 0)
		return;
	error = run_in_subtransaction(prepare, &s);
	if (error)
	{
		for (int i = 0; i < n; i++)
			out[i].error = error;
		return;
	}
	evaluate(&s, 0, n);
}
