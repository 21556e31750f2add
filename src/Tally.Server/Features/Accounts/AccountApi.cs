using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Tally.Server.Features.Accounts;

public static class AccountApi
{
    public static IEndpointRouteBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var session = app.MapSessionArea("/api/account", "Account", "account");
        session.MapGet("/me", MeAsync)
            .WithName("getMe")
            .WithSummary("The signed-in user")
            .WithDescription("The phone is not masked: it is the owner's.");
        session.MapGet("/balance", BalanceAsync)
            .WithName("getBalance")
            .WithSummary("Balance and available funds")
            .WithDescription("available is the balance less pending holds.");
        session.MapGet("/lookup", LookupAsync)
            .WithName("lookupAccount")
            .WithSummary("Look up an account by number")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidAccount)
            .ProducesErrors(StatusCodes.Status404NotFound, ErrorCodes.AccountNotFound);
        session.MapGet("/transactions", TransactionsAsync)
            .WithName("listTransactions")
            .WithSummary("The user's transfers, newest first")
            .ProducesErrors(StatusCodes.Status400BadRequest, ErrorCodes.InvalidPage);
        return app;
    }

    internal static async Task<Results<Ok<UserView>, ProblemHttpResult>> MeAsync(ClaimsPrincipal principal, ILedgerReader reader) =>
        await reader.GetUserAsync(principal.GetUserId()) is { } user
            ? TypedResults.Ok(user)
            : Problems.Create(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthenticated, "The session's user no longer exists.");

    internal static async Task<Results<Ok<BalanceView>, ProblemHttpResult>> BalanceAsync(ClaimsPrincipal principal, ILedgerReader reader) =>
        await reader.GetBalanceAsync(principal.GetUserId()) is { } balance
            ? TypedResults.Ok(balance)
            : Problems.Create(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthenticated, "The session's user no longer exists.");

    internal static async Task<Results<Ok<AccountLookupView>, ProblemHttpResult>> LookupAsync([Microsoft.AspNetCore.Mvc.FromQuery(Name = "account_number")] string? accountNumber, ILedgerReader reader)
    {
        if (!AccountNumber.IsValid(accountNumber))
        {
            return Problems.BadRequest(ErrorCodes.InvalidAccount, "An account number is 12 digits.");
        }
        return await reader.FindByAccountNumberAsync(accountNumber!) is { } account
            ? TypedResults.Ok(new AccountLookupView(account.AccountNumber, account.Username))
            : Problems.Create(StatusCodes.Status404NotFound, ErrorCodes.AccountNotFound, "No account has this number.");
    }

    internal static async Task<Results<Ok<TransactionPage>, ProblemHttpResult>> TransactionsAsync(string? page, string? size, ClaimsPrincipal principal, ILedgerReader reader)
    {
        if (Paging.Parse(page, size) is not { } paging)
        {
            return Problems.BadRequest(ErrorCodes.InvalidPage, "page must be a whole number from 1, and size from 1 to 100.");
        }
        return TypedResults.Ok(await reader.GetTransactionsAsync(principal.GetUserId(), paging.Page, paging.Size));
    }
}
